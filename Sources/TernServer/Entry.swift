import TernConfig
import TernEngine
import TernPersistence
#if canImport(Glibc)
import Glibc
#endif

/// `tern-server [config-file] [--directive value ...]`
public enum TernMain {
    public static func main(arguments: [String]) -> Never {
        // The checkers (redis-check-aof's and redis-check-rdb's twins): `tern-server
        // --check-aof ...` / `--check-rdb FILE`, or the binary run as tern-check-aof /
        // tern-check-rdb (a symlink).
        let invokedAs = arguments.first.map { String($0.split(separator: "/").last ?? "") } ?? ""
        if invokedAs == "tern-check-aof" { CheckAOF.main(invokedAs, Array(arguments.dropFirst())) }
        if arguments.count > 1 && arguments[1] == "--check-aof" { CheckAOF.main("tern-check-aof", Array(arguments.dropFirst(2))) }
        // Block SIGTERM/SIGINT before any thread exists so only the watcher thread sees them.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        signal(SIGPIPE, SIG_IGN)
        if invokedAs == "tern-check-rdb" || invokedAs == "redis-check-rdb" {
            checkRDB(name: invokedAs, Array(arguments.dropFirst()))
        }
        if arguments.count >= 2 && arguments[1] == "--check-rdb" {
            checkRDB(name: "tern-server --check-rdb", Array(arguments.dropFirst(2)))
        }
        // Redis's checkForSentinelMode: the binary's name, or --sentinel anywhere.
        let sentinel = invokedAs.contains("sentinel") || arguments.dropFirst().contains("--sentinel")
        let loaded: LoadedConfig
        do {
            loaded = try ConfigLoader.load(arguments: Array(arguments.dropFirst()), sentinel: sentinel)
        } catch let e as ConfigLoader.Fatal {
            if e.toStdout { StdIO.out(e.report) } else { StdIO.err(e.report) }
            exit(e.exitCode)
        } catch {
            StdIO.err("\(error)\n")
            exit(1)
        }
        if loaded.config.daemonize { Daemon.detach() }
        let process = TernServerProcess(config: loaded.config, notices: loaded.notices, hasArguments: arguments.count > 1)
        if let sentinel = process.sentinel {
            do {
                try sentinel.loadConfig()
            } catch let e as ConfigLoadError {
                StdIO.err(e.report)
                exit(1)
            } catch {
                exit(1)
            }
        }
        process.run()
    }
}

extension TernMain {
    static func checkRDB(name: String, _ args: [String]) -> Never {
        guard args.count == 1 else {
            StdIO.err("Usage: \(name) <rdb-file-name>\n")
            exit(1)
        }
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let now = Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
        var out: [UInt8] = []
        var corrupt = false
        let code = RDBCheck.run(path: args[0], nowMs: now, corrupt: &corrupt) { line in
            out += line
            out.append(0x0A)
        }
        out.withUnsafeBytes { b in
            var off = 0
            while off < b.count {
                let n = write(1, b.baseAddress! + off, b.count - off)
                if n <= 0 { break }
                off += n
            }
        }
        if corrupt { ServerLogger().log(.warning, "Terminating server after rdb file reading failure.", role: "C") }
        exit(code)
    }
}

enum Daemon {
    static func detach() {
        let pid = fork()
        if pid < 0 { perror("fork"); exit(1) }
        if pid > 0 { exit(0) }
        setsid()
        let fd = open("/dev/null", O_RDWR)
        if fd >= 0 {
            dup2(fd, 0); dup2(fd, 1); dup2(fd, 2)
            if fd > 2 { Glibc.close(fd) }
        }
    }
}
