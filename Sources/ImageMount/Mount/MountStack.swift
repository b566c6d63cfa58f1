import CNBD
import Glibc
import HostSystem

/// The live mounts of one run, newest last. `unmountAll()` releases them in reverse order; every step runs
/// even after a failure, the first error is rethrown, and a second call has nothing left to do.
public final class MountStack: @unchecked Sendable {
    private let lock = Mutex()
    private var mounts: [LiveMount] = []
    /// How long a busy mount is retried (killing its holders each time) before the last resort.
    public var busyTimeout: Double = 3

    public init() {}

    public var live: [LiveMount] { lock.withLock { mounts } }

    public func push(_ mount: LiveMount) { lock.withLock { mounts.append(mount) } }

    public func unmountAll() throws {
        var firstError: Error?
        while let mount = lock.withLock({ mounts.popLast() }) {
            do { try release(mount) } catch {
                Log.error("\(error)")
                if firstError == nil { firstError = error }
            }
        }
        if let firstError { throw firstError }
    }

    private func release(_ mount: LiveMount) throws {
        // Every filesystem of the image, so freed blocks leave the image file.
        if !mount.isPseudo && !mount.readOnly { Trim.run(on: mount.target) }
        let deadline = Monotonic.now + busyTimeout
        var holders: [MountHolder] = []
        while true {
            let code: Int32
            do { try Mount.unmount(mount.target, flags: 0); code = 0 } catch { code = error.errno }
            switch code {
            case 0:
                Log.debug("unmounted \(mount.target)")
                return
            case EINVAL, ENOENT:
                Log.debug("\(mount.target) was already unmounted")
                return
            case EBUSY:
                break
            default:
                throw SystemError("umount2", path: mount.target, errno: code)
            }
            let found = MountHolders.find(under: mount.target)
            if !found.isEmpty {
                holders = found
                Log.warning("\(mount.target) is busy, held by \(found.map(\.description).joined(separator: ", ")); killing them")
                MountHolders.kill(found)
            }
            // Pseudo filesystems hold no data: once nothing of ours holds them, detaching lazily is safe.
            if Monotonic.now >= deadline || (mount.isPseudo && found.isEmpty) { break }
            usleep(50_000)
        }
        try lazyDetach(mount, holders: holders)
    }

    private func lazyDetach(_ mount: LiveMount, holders: [MountHolder]) throws {
        let who = holders.isEmpty ? "no other process of this run holds it; qemu-chroot itself may" : "last holders \(holders.map(\.description).joined(separator: ", "))"
        if mount.isPseudo {
            Log.info("\(mount.target) (\(mount.fstype)) is still busy (\(who)); detaching it lazily (MNT_DETACH)")
            try Mount.unmount(mount.target, flags: Int32(MNT_DETACH))
            return
        }
        Log.warning("\(mount.target) is still busy after \(busyTimeout) s (\(who)); LAST RESORT: detaching it "
            + "lazily (MNT_DETACH). Writes still cached for \(mount.source) may be lost when its device is detached.")
        if let fd = try? FileDescriptor.open(mount.target, O_RDONLY | O_DIRECTORY) { _ = cnbd_syncfs(fd.rawValue) }
        try Mount.unmount(mount.target, flags: Int32(MNT_DETACH))
        throw SystemError("umount2", path: mount.target, errno: EBUSY,
                          hint: "it was detached lazily instead; check the image with qemu-img check / fsck")
    }
}
