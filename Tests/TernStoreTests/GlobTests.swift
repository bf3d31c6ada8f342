import XCTest
@testable import TernStore

final class GlobTests: XCTestCase {
    func m(_ p: String, _ s: String, nocase: Bool = false) -> Bool { Glob.match(p, s, nocase: nocase) }

    func testBasics() {
        XCTAssertTrue(m("*", "anything"))
        XCTAssertFalse(m("*", ""))            // only KEYS/SCAN special-case "*"
        XCTAssertFalse(m("**", ""))
        XCTAssertTrue(m("", ""))
        XCTAssertFalse(m("", "a"))
        XCTAssertTrue(m("h?llo", "hello"))
        XCTAssertFalse(m("h?llo", "hllo"))
        XCTAssertTrue(m("h*llo", "hllo"))
        XCTAssertTrue(m("h*llo", "heeeello"))
        XCTAssertTrue(m("h[ae]llo", "hallo"))
        XCTAssertFalse(m("h[ae]llo", "hillo"))
        XCTAssertTrue(m("h[^e]llo", "hallo"))
        XCTAssertFalse(m("h[^e]llo", "hello"))
        XCTAssertTrue(m("h[a-b]llo", "hbllo"))
        XCTAssertTrue(m("h[b-a]llo", "hallo"))   // reversed range swapped
        XCTAssertTrue(m("a*b*c", "axxbyyc"))
        XCTAssertFalse(m("a*b*c", "axxbyyd"))
        XCTAssertTrue(m("*a", "aaa"))
        XCTAssertTrue(m("a**", "a"))          // trailing stars skipped once the string ends
        XCTAssertTrue(m("a*", "a"))
    }

    func testEscapesAndClasses() {
        XCTAssertTrue(m("\\*", "*"))
        XCTAssertFalse(m("\\*", "a"))
        XCTAssertTrue(m("a\\", "a\\"))           // lone trailing backslash matches a backslash
        XCTAssertTrue(m("[\\]]", "]"))
        XCTAssertTrue(m("[]]", "]") == false)    // empty class never matches
        XCTAssertTrue(m("[]]x", "]x") == false)
        XCTAssertTrue(m("[^]", "z"))             // negated empty class: any byte
        XCTAssertTrue(m("[a-]", "]"))            // range ']'..'a'
        XCTAssertTrue(m("[a-]", "_"))
        XCTAssertFalse(m("[a-]", "-"))
        XCTAssertTrue(m("[a-b-c]", "-"))
        XCTAssertTrue(m("[a-b-c]", "c"))
        XCTAssertFalse(m("a[", "a"))
        XCTAssertFalse(m("a[", "ab"))
        XCTAssertTrue(m("a[^", "ab"))           // unterminated negated class: any byte
        XCTAssertTrue(m("[abc", "b"))           // unterminated class still applied
        XCTAssertTrue(m("[!a]", "!"))           // '!' is an ordinary member
        XCTAssertTrue(m("h\\[llo", "h[llo"))
        XCTAssertFalse(m("[", "x"))
        XCTAssertTrue(m("[^", "x"))
        XCTAssertTrue(m("*a*b*", "xxaxxbxx"))
        XCTAssertFalse(m("*a*b*", "xxbxxaxx"))
    }

    func testNocase() {
        XCTAssertTrue(m("HeLLo", "hello", nocase: true))
        XCTAssertFalse(m("HeLLo", "hello"))
        XCTAssertTrue(m("[A-C]x", "bX", nocase: true))
        XCTAssertFalse(m("[\\A]", "a", nocase: true))   // escapes in classes stay case-sensitive
        XCTAssertTrue(m("\\A", "a", nocase: true))       // outside classes they do not
        // CONFIG GET and COMMAND LIST FILTERBY PATTERN (both nocase), as redis-server 7.0 answers.
        XCTAssertTrue(m("MAX*", "maxmemory", nocase: true))
        XCTAssertTrue(m("maxmemor[^a]", "maxmemory", nocase: true))
        XCTAssertFalse(m("maxmemor[a-c]", "maxmemory", nocase: true))
        XCTAssertTrue(m("CLIENT|L*", "client|list", nocase: true))
        XCTAssertTrue(m("g\\Et", "get", nocase: true))
        XCTAssertFalse(m("[\\G]et", "get", nocase: true))   // CONFIG GET [\M]axmemory finds nothing
        XCTAssertTrue(m("[\\g]et", "get", nocase: true))
        // Ranges are swapped before they are lowered: [Z-a] becomes 'z'...'a', which is empty.
        XCTAssertFalse(m("[Z-a]et", "get", nocase: true))
        XCTAssertFalse(m("[Z-a]et", "Get", nocase: true))
        XCTAssertTrue(m("[Z-a]et", "_et"))
    }

    func testSignedRanges() {
        // Ranges compare signed chars: [a-\xff] becomes -1...97 and so contains \xff and 0...'a'.
        let p: [UInt8] = [91, 97, 45, 0xff, 93]
        XCTAssertTrue(Glob.match(p, [0xff]))
        XCTAssertTrue(Glob.match(p, [65]))
        XCTAssertFalse(Glob.match(p, [98]))
        XCTAssertFalse(Glob.match(p, [0x80]))
    }

    func testBinarySafe() {
        XCTAssertTrue(Glob.match([0, 42, 0], [0, 1, 2, 0]))
        XCTAssertFalse(Glob.match([0, 63], [0]))
    }

    func testNestingLimit() {
        let key = String(repeating: "a", count: 1100)
        XCTAssertTrue(m(String(repeating: "a*", count: 1001), key))
        XCTAssertFalse(m(String(repeating: "a*", count: 1002), key))
        XCTAssertFalse(m(String(repeating: "a*", count: 1001) + "?", key))
    }

    func testPathologicalIsFast() {
        // Without the give-up rule this is exponential.
        let key = String(repeating: "a", count: 5000)
        let pat = String(repeating: "*a", count: 40) + "b"
        XCTAssertFalse(m(pat, key))
    }
}
