import TernConfig
import TernProtocol
import TernStore
#if canImport(Glibc)
import Glibc
#endif

extension Engine {
    func registerSortCommands() {
        commands.register("sort", SortCommand.sort)
        commands.register("sort_ro", SortCommand.sortRO)
    }
}

/// SORT / SORT_RO (sort.c).
public enum SortCommand {
    static func sort(_ c: Client, _ a: Args) { sortGeneric(c, a, readonly: false) }
    static func sortRO(_ c: Client, _ a: Args) { sortGeneric(c, a, readonly: true) }

    struct Item {
        var value: [UInt8]
        var score: Double = 0
        var cmp: [UInt8]? = nil
    }

    static func containsStar(_ p: [UInt8]) -> Bool {
        for b in p {
            if b == 0 { return false }
            if b == 42 { return true }
        }
        return false
    }

    /// strtod over a C string: the whole text must convert (an empty string is 0), no
    /// ERANGE, no NaN.
    static func parseScore(_ b: [UInt8]) -> Double? {
        var buf = b
        buf.append(0)
        return buf.withUnsafeMutableBufferPointer { p -> Double? in
            let base = UnsafeMutableRawPointer(p.baseAddress!).assumingMemoryBound(to: CChar.self)
            var endp: UnsafeMutablePointer<CChar>? = nil
            errno = 0
            let v = strtod(base, &endp)
            if let e = endp, e.pointee != 0 { return nil }
            if errno == ERANGE || v.isNaN { return nil }
            return v
        }
    }

    static func sortGeneric(_ c: Client, _ a: Args, readonly: Bool) {
        var desc = false, alpha = false, dontsort = false
        var limitStart = 0, limitCount = -1
        var sortby: [UInt8]? = nil
        var storeKey: [UInt8]? = nil
        var gets: [[UInt8]] = []
        var j = 2
        while j < a.count {
            let left = a.count - j - 1
            if a.equals(j, "asc") {
                desc = false
            } else if a.equals(j, "desc") {
                desc = true
            } else if a.equals(j, "alpha") {
                alpha = true
            } else if a.equals(j, "limit") && left >= 2 {
                guard let s = Numbers.parseInt(a[j + 1]), let n = Numbers.parseInt(a[j + 2]) else {
                    c.notInteger()
                    return
                }
                limitStart = s
                limitCount = n
                j += 2
            } else if !readonly && a.equals(j, "store") && left >= 1 {
                storeKey = a.bytes(j + 1)
                j += 1
            } else if a.equals(j, "by") && left >= 1 {
                let p = a.bytes(j + 1)
                sortby = p
                if !containsStar(p) {
                    dontsort = true
                } else if !c.engine.mayReadEveryKey(c, a) {
                    // A pattern reads keys the key specs do not name: only for users who may
                    // read every key (Redis 7.0).
                    c.error("ERR BY option of SORT denied due to insufficient ACL permissions.")
                    return
                }
                j += 1
            } else if a.equals(j, "get") && left >= 1 {
                if !c.engine.mayReadEveryKey(c, a) {
                    c.error("ERR GET option of SORT denied due to insufficient ACL permissions.")
                    return
                }
                gets.append(a.bytes(j + 1))
                j += 1
            } else {
                c.syntaxError()
                return
            }
            j += 1
        }

        let entry = c.lookupRead(a[1])
        var type: ValueType = .list
        if let e = entry {
            type = e.type
            if type != .list && type != .set && type != .zset {
                c.wrongType()
                return
            }
        }
        if dontsort && type == .set && (storeKey != nil || c.flags.contains(.fake)) {
            dontsort = false
            alpha = true
            sortby = nil
        }

        // Redis converts a listpack sorted set to skiplist for SORT, destructively and even
        // for SORT_RO / BY nosort / LIMIT 0 0 (OBJECT ENCODING shows it afterwards).
        // The conversion reads every score back with strtod, and a subnormal score (as
        // 1e-320) sets errno to ERANGE there. Redis's numeric sort then tests errno after
        // its own strtod calls without clearing it first, so every value it parses as
        // text fails: "One or more scores can't be converted into double" (values held
        // as integers are not parsed and pass). Emulated for this command; an errno left
        // over from earlier commands is not (it depends on everything the server did).
        var staleERANGE = false
        if let e = entry, type == .zset, e.encoding == .listpack, var z = ZSetObject(e) {
            z.forEach { _, score in
                if score != 0 && abs(score) < Double.leastNormalMagnitude { staleERANGE = true }
            }
            z.convertToTree()
            c.db.replaceObject(e, with: z.object, encoding: z.encoding)
        }

        var all: [[UInt8]] = []
        if let e = entry {
            if type == .list, let ql = ListCommands.list(e) {
                all = ql.allElements
            } else if let s = e.object as? StoredCollection {
                // Sets and sorted sets: first component of each item (zsets in score order).
                s.forEachDigestItem { k, _ in all.append(Array(k)) }
            }
        }
        let total = all.count
        var start = limitStart < 0 ? 0 : limitStart
        // start + count - 1 may exceed Int.max (LIMIT 8 9223372036854775807): Redis then
        // answers to the end, as if the sum did not wrap.
        let (sum, overflow) = start.addingReportingOverflow(limitCount &- 1)
        var end = limitCount < 0 || overflow ? total - 1 : sum
        if start >= total {
            start = total - 1
            end = total - 2
        }
        if end >= total { end = total - 1 }

        var items: [Item] = []
        if (type == .zset || type == .list) && dontsort {
            // Unsorted lists/zsets: take the LIMIT range directly, in DESC order if asked.
            if end >= start {
                let n = end - start + 1
                items.reserveCapacity(n)
                if desc {
                    var i = total - 1 - start
                    while items.count < n && i >= 0 { items.append(Item(value: all[i])); i -= 1 }
                } else {
                    var i = start
                    while items.count < n && i < total { items.append(Item(value: all[i])); i += 1 }
                }
                end -= start
                start = 0
            }
        } else {
            items = all.map { Item(value: $0) }
        }
        all = []

        var conversionError = false
        if !dontsort {
            for k in 0..<items.count {
                let byval: [UInt8]
                var isInteger = false
                if let by = sortby {
                    guard let v = lookupByPattern(c, by, items[k].value, isInteger: &isInteger) else { continue }
                    byval = v
                } else {
                    byval = items[k].value
                }
                if alpha {
                    if sortby != nil { items[k].cmp = byval }
                } else if staleERANGE && !isInteger {
                    conversionError = true
                } else if let v = parseScore(byval) {
                    items[k].score = v
                } else {
                    conversionError = true
                }
            }
            let byPattern = sortby != nil
            let store = storeKey != nil
            let isAlpha = alpha, isDesc = desc
            items = stableSorted(items) { x, y in
                var r: Int
                if !isAlpha {
                    if x.score > y.score {
                        r = 1
                    } else if x.score < y.score {
                        r = -1
                    } else {
                        r = binaryCompare(x.value, y.value)
                    }
                } else if byPattern {
                    if let xc = x.cmp, let yc = y.cmp {
                        r = store ? binaryCompare(xc, yc) : collate(xc, yc)
                    } else {
                        r = x.cmp == nil ? (y.cmp == nil ? 0 : -1) : 1
                    }
                } else {
                    r = store ? binaryCompare(x.value, y.value) : collate(x.value, y.value)
                }
                return isDesc ? -r : r
            }
        }

        let span = end >= start ? end - start + 1 : 0
        let outputlen = gets.isEmpty ? span : gets.count * span
        if conversionError {
            c.error("ERR One or more scores can't be converted into double")
            return
        }
        guard let dst = storeKey else {
            c.out.array(outputlen)
            if span == 0 { return }
            for k in start...end {
                if gets.isEmpty { c.out.bulk(items[k].value) }
                for g in gets {
                    if let v = lookupByPattern(c, g, items[k].value) { c.out.bulk(v) } else { c.out.null() }
                }
            }
            return
        }
        let ql = Quicklist()
        if span > 0 {
            for k in start...end {
                if gets.isEmpty {
                    items[k].value.withUnsafeBytes { ql.pushTail($0) }
                } else {
                    for g in gets {
                        (lookupByPattern(c, g, items[k].value) ?? []).withUnsafeBytes { ql.pushTail($0) }
                    }
                }
            }
        }
        dst.withUnsafeBytes { key in
            if outputlen > 0 {
                _ = c.lookupWrite(key)
                c.db.setObject(key, ql, type: .list, encoding: .quicklist, lru: c.engine.objectLRU)
                c.keyModified(key)
                c.engine.signalKeyReady(c.db, key)
                c.notify(.list, "sortstore", key)
                c.engine.dirty += outputlen
            } else if c.deleteKey(key) {
                c.keyModified(key)
                c.notify(.generic, "del", key)
                c.engine.dirty += 1
            }
        }
        c.out.integer(outputlen)
    }

    /// memcmp then length (compareStringObjects, binary).
    static func binaryCompare(_ x: [UInt8], _ y: [UInt8]) -> Int {
        let n = min(x.count, y.count)
        let r = x.withUnsafeBytes { xp in
            y.withUnsafeBytes { yp in n == 0 ? 0 : memcmp(xp.baseAddress!, yp.baseAddress!, n) }
        }
        if r != 0 { return r < 0 ? -1 : 1 }
        return x.count == y.count ? 0 : (x.count < y.count ? -1 : 1)
    }

    /// strcoll over C strings; Tern collates in the C locale (bytes up to the first NUL).
    static func collate(_ x: [UInt8], _ y: [UInt8]) -> Int {
        let xa = x.firstIndex(of: 0).map { Array(x[..<$0]) } ?? x
        let ya = y.firstIndex(of: 0).map { Array(y[..<$0]) } ?? y
        return binaryCompare(xa, ya)
    }

    /// Stable bottom-up merge sort with a three-way comparator.
    static func stableSorted(_ a: [Item], _ cmp: (Item, Item) -> Int) -> [Item] {
        if a.count < 2 { return a }
        var src = a
        var dst = a
        var width = 1
        let n = a.count
        while width < n {
            var i = 0
            while i < n {
                let mid = min(i + width, n), hi = min(i + 2 * width, n)
                var l = i, r = mid, k = i
                while l < mid && r < hi {
                    if cmp(src[r], src[l]) < 0 {
                        dst[k] = src[r]; r += 1
                    } else {
                        dst[k] = src[l]; l += 1
                    }
                    k += 1
                }
                while l < mid { dst[k] = src[l]; l += 1; k += 1 }
                while r < hi { dst[k] = src[r]; r += 1; k += 1 }
                i += 2 * width
            }
            swap(&src, &dst)
            width *= 2
        }
        return src
    }

    /// Redis's lookupKeyByPattern: "#" is the element itself; the first '*' is replaced by
    /// the element; "->field" after it reads a hash field; otherwise a string key's value.
    static func lookupByPattern(_ c: Client, _ pattern: [UInt8], _ subst: [UInt8]) -> [UInt8]? {
        var isInteger = false
        return lookupByPattern(c, pattern, subst, isInteger: &isInteger)
    }

    /// lookupByPattern that also tells whether Redis would hand the value over as an
    /// integer object (an int-encoded string key, or a listpack hash value stored as an
    /// integer) rather than as text.
    static func lookupByPattern(_ c: Client, _ pattern: [UInt8], _ subst: [UInt8],
                                isInteger: inout Bool) -> [UInt8]? {
        isInteger = false
        if pattern.count >= 1 && pattern[0] == 35 && (pattern.count == 1 || pattern[1] == 0) { return subst }
        let cstrEnd = pattern.firstIndex(of: 0) ?? pattern.count
        guard let star = pattern[..<cstrEnd].firstIndex(of: 42) else { return nil }
        var fieldStart = -1
        var i = star + 1
        while i + 1 < cstrEnd {
            if pattern[i] == 45 && pattern[i + 1] == 62 { fieldStart = i + 2; break }
            i += 1
        }
        if fieldStart >= cstrEnd { fieldStart = -1 }
        let fieldLen = fieldStart >= 0 ? pattern.count - fieldStart : 0
        let postfixLen = pattern.count - (star + 1) - (fieldStart >= 0 ? fieldLen + 2 : 0)
        var key = Array(pattern[..<star])
        key.append(contentsOf: subst)
        if postfixLen > 0 { key.append(contentsOf: pattern[(star + 1)..<(star + 1 + postfixLen)]) }
        return key.withUnsafeBytes { k -> [UInt8]? in
            guard let e = c.lookupRead(k) else { return nil }
            if fieldStart >= 0 {
                guard e.type == .hash else { return nil }
                let field = Array(pattern[fieldStart...])
                let value = field.withUnsafeBytes { f -> [UInt8]? in
                    guard let h = e.object as? StoredCollection else { return nil }
                    var found: [UInt8]? = nil
                    h.forEachDigestItem { k, v in
                        if found == nil && k.count == f.count
                            && (k.count == 0 || memcmp(k.baseAddress!, f.baseAddress!, k.count) == 0) {
                            found = v.map { Array($0) } ?? []
                        }
                    }
                    return found
                }
                // A listpack stores integer-looking values as integers (string2ll rules).
                if let v = value, e.encoding == .listpack, v.withUnsafeBytes({ Numbers.parseInt($0) }) != nil {
                    isInteger = true
                }
                return value
            }
            guard e.type == .string else { return nil }
            isInteger = e.encoding == .int
            return Array(e.stringValue)
        }
    }
}
