import TernConfig
extension Engine {
    /// Every command family registers its handlers here (one line per family).
    func registerAllCommands() {
        registerConnectionCommands()
        registerStringCommands()
        registerKeyCommands()
        registerConfigCommands()
        registerServerCommands()
        registerHashCommands()
        registerSetCommands()
        registerSortedSetCommands()
        registerTransactionAndPubSubCommands()
        registerListCommands()
        registerSortCommands()
        registerReplicationMasterCommands()
        registerFailoverCommand()
        registerReplicaCommands()
        registerScriptingCommands()
        registerACLCommands()
    }
}
