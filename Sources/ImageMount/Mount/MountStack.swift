import CNBD
import Glibc
import HostSystem
import Synchronization

/// The live mounts of one run, newest last. `unmountAll()` releases them in reverse order; every step runs
/// even after a failure, the first error is rethrown, and a second call has nothing left to do.
public final class MountStack: Sendable {
    private let mounts = Mutex<[LiveMount]>([])
    private let busySeconds = Mutex(3.0)

    /// How long a busy mount is retried (killing its holders each time) before the last resort.
    public var busyTimeout: Double {
        get { busySeconds.withLock { $0 } }
        set { busySeconds.withLock { $0 = newValue } }
    }

    public init() {}

    public var live: [LiveMount] { mounts.withLock { $0 } }

    public func push(_ mount: LiveMount) { mounts.withLock { $0.append(mount) } }

    public func unmountAll() throws {
        var errors = Teardown.Errors()
        while let mount = mounts.withLock({ $0.popLast() }) {
            errors.attempt("unmount \(mount.target)") {
                do { try release(mount) } catch {
                    Log.error("\(error)")
                    throw error
                }
            }
        }
        try errors.rethrow()
    }

    private func release(_ mount: LiveMount) throws {
        // Every filesystem of the image, so freed blocks leave the image file.
        if !mount.isPseudo && !mount.readOnly { Trim.run(on: mount.target) }
        var holders: [MountHolder] = []
        var unmounted = false
        // umount2 has nothing to wait on: EBUSY is retried while the holders we kill exit.
        try Poll.until(seconds: busyTimeout, interval: 0.05) {
            let code: Int32
            do throws(SystemError) { try Mount.unmount(mount.target, flags: 0); code = 0 } catch { code = error.errno }
            switch code {
            case 0:
                Log.debug("unmounted \(mount.target)")
                unmounted = true
                return true
            case EINVAL, ENOENT:
                Log.debug("\(mount.target) was already unmounted")
                unmounted = true
                return true
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
            return mount.isPseudo && found.isEmpty
        }
        if unmounted { return }
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
