import XCTest
@testable import TernPersistence
import TernStore

/// The streaming loader (a replica's diskless load) fed in pieces of every size reads the
/// same records as the whole-image load, and a cut or damaged image still fails.
final class RDBStreamingLoadTests: XCTestCase {
    struct Seen: Equatable {
        var db: Int
        var key: [UInt8]
        var expireAt: Int64?
    }

    func wholeLoad(_ image: [UInt8]) throws -> [Seen] {
        var seen: [Seen] = []
        _ = try RDBFile.load(image, limits: EncodingLimits(), verifyChecksum: true) {
            seen.append(Seen(db: $0.db, key: $0.key, expireAt: $0.expireAt))
        }
        return seen
    }

    /// Feeds `image` in pieces of `piece` bytes; returns the records and whether it finished.
    func streamedLoad(_ image: [UInt8], piece: Int, complete: Bool = true) throws -> ([Seen], Bool) {
        var loader = RDBFile.Loader(streamingWith: EncodingLimits(), verifyChecksum: true)
        var seen: [Seen] = []
        var finished = false
        var at = 0
        while at < image.count {
            let end = min(image.count, at + piece)
            image[at..<end].withUnsafeBytes { loader.append($0) }
            at = end
            finished = try loader.step(maxBytes: Int.max) { rec in
                seen.append(Seen(db: rec.db, key: Array(rec.key), expireAt: rec.expireAt))
            }
        }
        if complete {
            loader.finishInput()
            finished = try loader.step(maxBytes: Int.max) { rec in
                seen.append(Seen(db: rec.db, key: Array(rec.key), expireAt: rec.expireAt))
            }
            XCTAssertEqual(loader.consumedBytes, image.count)
        }
        return (seen, finished)
    }

    func testPiecesOfEverySizeReadTheSameRecords() throws {
        let dbs = RDBDeferredCompressionTests.makeDatabases()
        let image = RDBFile.serialize(dbs, aux: RDBFile.Aux(ctime: 1_700_000_000, usedMemory: 1), compression: true, checksum: true)
        let want = try wholeLoad(image)
        XCTAssertGreaterThan(want.count, 0)
        // Pieces big enough that the consumed prefix is dropped along the way (checksum kept).
        for piece in [1, 7, 64, 1000, 70_000, image.count] {
            let (got, finished) = try streamedLoad(image, piece: piece)
            XCTAssertTrue(finished, "piece \(piece)")
            XCTAssertEqual(got, want, "piece \(piece)")
        }
    }

    func testCutOrDamagedImageFails() throws {
        let dbs = RDBDeferredCompressionTests.makeDatabases()
        let image = RDBFile.serialize(dbs, aux: RDBFile.Aux(ctime: 1_700_000_000, usedMemory: 1), compression: true, checksum: true)
        // Cut: waits for more while input may come, fails once it is complete.
        let cut = Array(image[0..<(image.count / 2)])
        let (_, waiting) = try streamedLoad(cut, piece: 4096, complete: false)
        XCTAssertFalse(waiting)
        XCTAssertThrowsError(try streamedLoad(cut, piece: 4096))
        // A flipped byte in the checksum: found at the end, after every record.
        var bad = image
        bad[bad.count - 1] ^= 0xFF
        XCTAssertThrowsError(try streamedLoad(bad, piece: 100_000))
        // Not an RDB.
        XCTAssertThrowsError(try streamedLoad(Array("HELLO WORLD".utf8), piece: 3))
    }
}
