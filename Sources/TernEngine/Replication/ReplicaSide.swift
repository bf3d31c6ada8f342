import TernConfig
import TernProtocol
import TernStore

// The replica side of replication (Redis's replicaofCommand, connectWithMaster,
// syncWithMaster, readSyncBulkPayload, replicationCron's replica half).
// Placeholder surface used by the master side, INFO and ROLE; built out by the replica-side work.

extension Engine {
    /// The db the master's stream is in, for repl-stream-db in our own RDBs.
    var replicaStreamDb: Int { 0 }

    /// The applied offset of the live master client (ROLE), nil without one.
    var replicaAppliedOffset: Int64? { nil }

    /// REPLCONF GETACK from our master: answer with REPLCONF ACK <applied offset>.
    func masterAskedForAck(_ c: Client) {}

    /// INFO replication's replica fields (after `role:slave`).
    func replicaInfoFields() -> [(String, String)] { [] }

    /// serverCron's once-a-second replication work (Redis's replicationCron).
    func replicationCron() {
        replicationMasterCron()
    }
}
