/// One-line summaries for COMMAND DOCS, in Tern's own words.
enum CommandSummaries {
    static let text: [String: String] = [
        "get": "Returns the string value stored at a key.",
        "set": "Stores a string value at a key, with optional expiry and conditions.",
        "ping": "Checks that the server is alive.",
    ]
}
