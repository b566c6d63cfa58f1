import FoundationEssentials
import Glibc
import HostSystem

/// The record of a run whose owner is gone (dead, its pid now belongs to another process, or it ran in an
/// earlier boot).
public struct StaleRun: Sendable {
    public let directory: String
    public let record: RunRecord

    public init(directory: String, record: RunRecord) {
        self.directory = directory
        self.record = record
    }
}

extension RunLedger {
    /// Every run record under `root` whose owner process no longer runs. Records that cannot be read are
    /// reported with a warning and left alone: we never act on what we cannot understand.
    public static func findStale(root: String = RunLedger.defaultRoot) -> [StaleRun] {
        findAllRuns(root: root)
            .filter { !$0.record.isFromThisBoot || !ProcFS.isAlive($0.record.ownerPID, startTime: $0.record.ownerStartTime) }
    }

    /// Every readable run record under `root`, oldest first.
    public static func findAll(root: String = RunLedger.defaultRoot) -> [RunRecord] {
        findAllRuns(root: root).map(\.record)
    }

    static func findAllRuns(root: String) -> [StaleRun] {
        guard let dir = opendir(root) else { return [] }
        defer { closedir(dir) }
        var result: [StaleRun] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name != ".", name != ".." else { continue }
            let directory = "\(root)/\(name)"
            guard let text = ProcFS.readText("\(directory)/record.json") else { continue }
            guard let record = try? JSONDecoder().decode(RunRecord.self, from: Data(text.utf8)) else {
                Log.warning("cannot read the run record \(directory)/record.json; leaving it alone")
                continue
            }
            result.append(StaleRun(directory: directory, record: record))
        }
        return result.sorted { $0.record.startedAt < $1.record.startedAt }
    }
}
