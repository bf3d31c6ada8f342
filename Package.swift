// swift-tools-version:6.0
import PackageDescription

// Release builds drop Swift's dynamic exclusivity checks: the engine is single-owner
// (one event loop) and the checks cost ~10% of CPU on the hot path.
let fast: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "Tern",
    products: [
        .executable(name: "tern-server", targets: ["tern-server"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
    ],
    targets: [
        .target(name: "CTern"),
        .target(name: "TernProtocol", dependencies: ["CTern"], swiftSettings: fast),
        .target(name: "TernStore", dependencies: ["CTern"], swiftSettings: fast),
        .target(name: "TernConfig", dependencies: ["CTern", "TernProtocol", "TernStore"], swiftSettings: fast),
        .target(name: "TernEngine", dependencies: ["CTern", "TernProtocol", "TernStore", "TernConfig"], swiftSettings: fast),
        .target(name: "TernServer", dependencies: [
            "TernProtocol", "TernStore", "TernConfig", "TernEngine",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ], swiftSettings: fast),
        .executableTarget(name: "tern-server", dependencies: ["TernServer"], swiftSettings: fast),
        .testTarget(name: "TernProtocolTests", dependencies: ["TernProtocol"]),
        .testTarget(name: "TernStoreTests", dependencies: ["TernStore"]),
        .testTarget(name: "TernEngineTests", dependencies: ["TernEngine", "TernConfig", "TernProtocol", "TernStore"]),
    ]
)
