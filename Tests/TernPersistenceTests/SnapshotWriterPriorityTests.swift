import XCTest
#if canImport(Glibc)
import Glibc
#endif
@testable import TernPersistence

/// BGSAVE's writer thread runs in the idle class, is raised to nice 19 while it is behind,
/// and to normal priority while the engine waits for it (no priority inversion). Read back
/// from the kernel (/proc/self/task/<tid>/stat: nice is field 19, the policy field 41).
final class SnapshotWriterPriorityTests: XCTestCase {
    private func schedOf(_ tid: Int32) -> (policy: Int, nice: Int)? {
        guard let f = fopen("/proc/self/task/\(tid)/stat", "r") else { return nil }
        defer { fclose(f) }
        var buf = [CChar](repeating: 0, count: 4096)
        guard fgets(&buf, Int32(buf.count), f) != nil else { return nil }
        let line = String(cString: buf)
        guard let close = line.lastIndex(of: ")") else { return nil }
        // Fields after the comm start at field 3.
        let fields = line[line.index(after: close)...].split(separator: " ")
        guard fields.count > 38, let nice = Int(fields[19 - 3]), let policy = Int(fields[41 - 3]) else { return nil }
        return (policy, nice)
    }

    func testIdleWriterIsRaisedWhenBehindAndWhileWaitedOn() throws {
        let w = SerialWriterThread(priority: .idle)
        defer { w.close() }
        XCTAssertNotEqual(w.tid, 0)
        guard w.canRaise else {
            // Unprivileged (no CAP_SYS_NICE): never below nice 19, since it could not come back.
            XCTAssertEqual(schedOf(w.tid)?.policy, 0)
            XCTAssertEqual(schedOf(w.tid)?.nice, 19)
            throw XCTSkip("this process may not raise a thread's priority")
        }
        XCTAssertEqual(schedOf(w.tid)?.policy, 5)             // SCHED_IDLE
        w.pace(behind: true)
        XCTAssertEqual(schedOf(w.tid)?.policy, 0)
        XCTAssertEqual(schedOf(w.tid)?.nice, 19)
        w.pace(behind: false)
        XCTAssertEqual(schedOf(w.tid)?.policy, 5)

        // While the caller waits, the job sees itself at normal priority; after, idle again.
        var seen: (policy: Int, nice: Int)?
        let tid = w.tid
        w.async {
            usleep(20_000)
            seen = self.schedOf(tid)
        }
        w.waitIdle()
        XCTAssertEqual(seen?.policy, 0)
        XCTAssertEqual(seen?.nice, 0)
        XCTAssertEqual(schedOf(w.tid)?.policy, 5)
    }
    func testNormalPriorityWriterIsLeftAlone() {
        let w = SerialWriterThread(priority: .normal)
        defer { w.close() }
        w.pace(behind: true)
        XCTAssertEqual(schedOf(w.tid)?.policy, 0)
        XCTAssertEqual(schedOf(w.tid)?.nice, 0)
    }
}
