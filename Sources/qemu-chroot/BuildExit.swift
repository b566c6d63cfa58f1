import Builder
import Glibc
import NBDCore

/// The exit status of `build`, one per way a run can end (the table in docs/builder.md). Usage errors
/// (an unknown flag) exit 64, as ArgumentParser does.
enum BuildExit: Int32 {
    case success = 0
    /// At least one build failed (a provisioner, the image, a step).
    case buildFailed = 1
    /// The template (or a -var, -var-file) is invalid or unreadable; nothing was built.
    case invalidTemplate = 2
    /// The host cannot build: not root, or a program the build runs (qemu-img...) is missing.
    case hostLacksRequirement = 3
    /// SIGINT, SIGTERM or SIGHUP stopped the run (after cleaning up): 128 + SIGINT, as shells report it.
    case interrupted = 130

    /// An interruption outranks the host's lacks, which outrank other failures: each says more about
    /// what to do next than the one after it.
    static func of(_ results: [BuildResult], cancelled: Bool) -> BuildExit {
        if cancelled { return .interrupted }
        let errors = results.compactMap(\.error)
        if errors.contains(where: isHostRequirement) { return .hostLacksRequirement }
        return errors.isEmpty && !results.isEmpty ? .success : .buildFailed
    }

    static func isHostRequirement(_ error: Error) -> Bool {
        switch error {
        case let failed as StepFailed: return isHostRequirement(failed.underlying)
        case is ExecutableNotFound: return true
        // EPERM means "not root" only when we are not; as root it is a refusal to report as a failure.
        case let system as SystemError: return system.errno == EPERM && geteuid() != 0
        default: return false
        }
    }
}
