import CNBD
import Glibc
import HostSystem

/// device-mapper through its control node, with no libdevmapper, dmsetup or lvm2 tools: a device is created
/// (DM_DEV_CREATE), given its table (DM_TABLE_LOAD) and made live (DM_DEV_SUSPEND without DM_SUSPEND_FLAG, which
/// is a resume); DM_DEV_REMOVE removes it. Names are the caller's and must be unique on the host.
public enum DeviceMapper {
    public static let controlPath = "/dev/mapper/control"

    /// `sectors` 512-byte sectors from `startSector` of the new device, served by target `type` with `parameters`.
    public struct Target: Equatable, Sendable {
        public let startSector: UInt64
        public let sectors: UInt64
        public let type: String
        public let parameters: String

        /// `sectors` sectors of block device `device` from its byte `offset`.
        public static func linear(startSector: UInt64, sectors: UInt64, device: dev_t, offset: UInt64) -> Target {
            Target(startSector: startSector, sectors: sectors, type: "linear",
                   parameters: "\(cnbd_dev_major(UInt64(device))):\(cnbd_dev_minor(UInt64(device))) \(offset / 512)")
        }
    }

    /// nil when this kernel maps devices; else why not, in a sentence.
    public static var unavailableReason: String? {
        do {
            try FileDescriptor.open(controlPath, O_RDWR | O_CLOEXEC).close()
            return nil
        } catch let error as SystemError {
            return "the kernel has no device-mapper (\(controlPath): \(Errno.message(error.errno)); modprobe dm_mod loads it where the module exists)"
        } catch {
            return "the kernel has no device-mapper (\(error))"
        }
    }

    /// Creates device `name` (with `uuid`, which udev shows as DM_UUID) serving `targets`, and makes it live;
    /// returns its device number. A device that was created but could not be made live is removed again.
    public static func create(name: String, uuid: String, targets: [Target], readOnly: Bool) throws -> dev_t {
        let control = try FileDescriptor.open(controlPath, O_RDWR | O_CLOEXEC)
        defer { try? control.close() }
        _ = try command(control, "DM_DEV_CREATE", CNBD_DM_DEV_CREATE, name: name, uuid: uuid)
        do {
            _ = try command(control, "DM_TABLE_LOAD", CNBD_DM_TABLE_LOAD, name: name,
                            flags: readOnly ? CNBD_DM_READONLY_FLAG : 0, targets: targets)
            return try command(control, "DM_DEV_SUSPEND (resume)", CNBD_DM_DEV_SUSPEND, name: name).dev
        } catch {
            _ = try? command(control, "DM_DEV_REMOVE", CNBD_DM_DEV_REMOVE, name: name)
            throw error
        }
    }

    /// Removes device `name`; one already gone is fine. udev probes every new device and may hold it open for a
    /// moment (EBUSY), so a busy device is tried again for up to `seconds`.
    public static func remove(_ name: String, seconds: Double = 5) throws {
        let control = try FileDescriptor.open(controlPath, O_RDWR | O_CLOEXEC)
        defer { try? control.close() }
        do {
            try Poll.whileBusy(seconds: seconds) { _ = try command(control, "DM_DEV_REMOVE", CNBD_DM_DEV_REMOVE, name: name) }
        } catch let error as SystemError where error.errno == ENXIO {
            // Already gone.
        } catch let error as SystemError where error.errno == EBUSY {
            throw error.withHint("it is still mounted or open")
        }
    }

    /// Whether device `name` exists (DM_DEV_STATUS); false also when the host has no device-mapper.
    public static func exists(_ name: String) -> Bool {
        guard let control = try? FileDescriptor.open(controlPath, O_RDWR | O_CLOEXEC) else { return false }
        defer { try? control.close() }
        return (try? command(control, "DM_DEV_STATUS", CNBD_DM_DEV_STATUS, name: name)) != nil
    }

    /// One ioctl on the control node with a buffer cnbd_dm_encode filled; returns the device number and open
    /// count the kernel answered with.
    private static func command(_ control: FileDescriptor, _ operation: String, _ request: UInt, name: String,
                                uuid: String? = nil, flags: UInt32 = 0,
                                targets: [Target] = []) throws -> (dev: dev_t, openCount: Int32) {
        let types = targets.map { strdup($0.type) }, parameters = targets.map { strdup($0.parameters) }
        defer { (types + parameters).forEach { free($0) } }
        var specs: [cnbd_dm_target] = []
        for (index, target) in targets.enumerated() {
            guard let type = types[index], let parameter = parameters[index] else { throw SystemError("strdup", errno: ENOMEM) }
            specs.append(cnbd_dm_target(start_sector: target.startSector, sectors: target.sectors, type: type, params: parameter))
        }
        let capacity = 4096 + targets.reduce(0) { $0 + 48 + $1.type.utf8.count + $1.parameters.utf8.count }
        var buffer = [UInt8](repeating: 0, count: capacity)
        return try buffer.withUnsafeMutableBytes { raw in
            let base = raw.baseAddress!
            let used = specs.withUnsafeBufferPointer { list in
                cnbd_dm_encode(base, capacity, name, uuid, flags, list.baseAddress, list.count)
            }
            guard used > 0 else {
                throw SystemError(operation, path: name, errno: ENAMETOOLONG,
                                  hint: "a device-mapper name is at most \(CNBD_DM_NAME_LEN - 1) bytes, a uuid \(CNBD_DM_UUID_LEN - 1)")
            }
            do {
                try control.ioctl(operation, request, pointer: base)
            } catch let error as SystemError {
                throw SystemError(operation, path: name, errno: error.errno)
            }
            return (dev_t(cnbd_dm_dev(base)), cnbd_dm_open_count(base))
        }
    }
}
