import Glibc
import NBDCore

/// Puts the source where the overlay can use it: a URL is downloaded into the cache and checked against
/// source_checksum, a compressed source is decompressed into the cache, a local source with a checksum is
/// checked. First of the steps, so a mismatch stops the build before anything is made. Cleanup removes this
/// run's partial files (a cancelled download); complete cache entries stay for later builds.
final class StepFetchSource: Step {
    let name = "fetch source"
    private var partials: [String] = []

    func run(_ state: BuildState) throws {
        let config = state.config
        guard let source = config.source else { return }
        let cache = SourceCache(directory: config.cacheDirectory ?? SourceCache.defaultDirectory(ProcessEnvironment.current))
        state.sourcePath = try cache.resolve(source, checksum: config.sourceChecksum, runID: state.runID, log: state.output,
                                             cancellation: state.cancellation) { partials.append($0) }
    }

    func cleanup(_ state: BuildState) throws {
        for path in partials where HostPath.exists(path) {
            try syscall("unlink", path: path) { unlink(path) }
        }
        partials = []
    }
}
