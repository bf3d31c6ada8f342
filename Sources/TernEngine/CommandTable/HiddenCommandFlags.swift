/// The five command flags COMMAND INFO hides on purpose, so the generated catalog (dumped
/// from COMMAND INFO) lacks them. Facts of Redis 7.0.15's command table, as listed in the
/// project's command-flags spec; `Command.init` adds them to the catalog's flags.
/// Sentinel commands are listed although the catalog (a non-sentinel server) has none of
/// them, so sentinel mode can look its flags up here too.
enum HiddenCommandFlags {
    static let table: [String: CommandFlags] = {
        var t: [String: CommandFlags] = [:]
        func add(_ flag: CommandFlags, _ names: String) {
            for n in names.split(separator: " ") { t[String(n), default: []].insert(flag) }
        }
        add(.mayReplicate, "eval evalsha fcall pfcount publish spublish")
        add(.protected, "debug module|load module|loadex module|unload")
        add(.touchesArbitraryKeys, "randomkey scan")
        add(.sentinel, """
            acl acl|cat acl|deluser acl|dryrun acl|genpass acl|getuser acl|help acl|list acl|load \
            acl|log acl|save acl|setuser acl|users acl|whoami auth client client|caching \
            client|getname client|getredir client|help client|id client|info client|kill \
            client|list client|no-evict client|pause client|reply client|setname client|tracking \
            client|trackinginfo client|unblock client|unpause command command|count command|docs \
            command|getkeys command|getkeysandflags command|help command|info command|list hello \
            info ping psubscribe publish punsubscribe role sentinel sentinel|ckquorum \
            sentinel|config sentinel|debug sentinel|failover sentinel|flushconfig \
            sentinel|get-master-addr-by-name sentinel|help sentinel|info-cache \
            sentinel|is-master-down-by-addr sentinel|master sentinel|masters sentinel|monitor \
            sentinel|myid sentinel|pending-scripts sentinel|remove sentinel|replicas sentinel|reset \
            sentinel|sentinels sentinel|set sentinel|simulate-failure sentinel|slaves shutdown \
            subscribe unsubscribe
            """)
        add(.onlySentinel, """
            sentinel sentinel|ckquorum sentinel|config sentinel|debug sentinel|failover \
            sentinel|flushconfig sentinel|get-master-addr-by-name sentinel|help sentinel|info-cache \
            sentinel|is-master-down-by-addr sentinel|master sentinel|masters sentinel|monitor \
            sentinel|myid sentinel|pending-scripts sentinel|remove sentinel|replicas sentinel|reset \
            sentinel|sentinels sentinel|set sentinel|simulate-failure sentinel|slaves
            """)
        return t
    }()
}
