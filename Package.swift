// swift-tools-version:6.0
import PackageDescription
import Foundation

// Tern allocates with jemalloc when Debian's libjemalloc-dev is installed (the README's
// commands install it): its size classes have no per-block header, which is worth 8-16 B per
// key against glibc (docs/MEMORY.md has the measurements). Without it Tern builds against
// glibc malloc and says so in INFO (mem_allocator). TERN_ALLOCATOR=libc forces glibc malloc
// (to compare allocators: build into another --build-path so the two builds do not mix).
let wantsLibc = ProcessInfo.processInfo.environment["TERN_ALLOCATOR"] == "libc"
let jemalloc = !wantsLibc
    && FileManager.default.fileExists(atPath: "/usr/include/jemalloc/jemalloc.h")
    && (FileManager.default.fileExists(atPath: "/usr/lib/x86_64-linux-gnu/libjemalloc.so")
        || FileManager.default.fileExists(atPath: "/usr/lib/aarch64-linux-gnu/libjemalloc.so")
        || FileManager.default.fileExists(atPath: "/usr/lib/libjemalloc.so"))
let allocatorC: [CSetting] = jemalloc ? [.define("TERN_JEMALLOC")] : []
let allocatorLink: [LinkerSetting] = jemalloc ? [.linkedLibrary("jemalloc")] : []

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
        .target(name: "CTern", cSettings: allocatorC, linkerSettings: allocatorLink),
        .target(name: "TernProtocol", dependencies: ["CTern"], swiftSettings: fast),
        .target(name: "TernStore", dependencies: ["CTern"], swiftSettings: fast),
        .target(name: "TernConfig", dependencies: ["CTern", "TernProtocol", "TernStore"], swiftSettings: fast),
        .target(name: "TernPersistence", dependencies: ["CTern", "TernProtocol", "TernStore", "TernConfig"], swiftSettings: fast),
        .target(name: "TernEngine", dependencies: ["CTern", "TernProtocol", "TernStore", "TernConfig", "TernPersistence"], swiftSettings: fast),
        .target(name: "TernSentinel", dependencies: ["CTern", "TernProtocol", "TernStore", "TernConfig", "TernEngine"], swiftSettings: fast),
        .target(name: "TernCluster", dependencies: ["CTern", "TernProtocol", "TernStore", "TernConfig", "TernEngine"], swiftSettings: fast),
        .target(name: "TernServer", dependencies: [
            "TernProtocol", "TernStore", "TernConfig", "TernEngine", "TernSentinel", "TernCluster",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ], swiftSettings: fast),
        .executableTarget(name: "tern-server", dependencies: ["TernServer"], swiftSettings: fast),
        .testTarget(name: "TernProtocolTests", dependencies: ["TernProtocol"]),
        .testTarget(name: "TernStoreTests", dependencies: ["TernStore"]),
        .testTarget(name: "TernPersistenceTests", dependencies: ["TernPersistence", "TernStore", "TernConfig"]),
        .testTarget(name: "TernEngineTests", dependencies: ["TernEngine", "TernConfig", "TernProtocol", "TernStore"]),
    ]
)
