import Glibc
import HostSystem
import ImageLayout
import NBDProtocol
import QemuTools
import Synchronization

/// An image attached through the kernel nbd driver. Owns, in teardown order: the kernel attachment (partitions,
/// device), the reader connection used for layout probes, and the qemu-nbd server, which is stopped last so it
/// flushes everything the kernel wrote.
final class NBDAttachedImage: AttachedImage, Sendable {
    let mode: AttachMode
    var disk: BlockReader { reader }
    private let server: QemuNBDServer
    private let reader: NBDConnection
    private let attachment: NBDKernelAttachment
    private let ledger: RunLedger?
    private let ledgerEntries: [Int]
    /// Also held while mapping a volume, so no device appears after detach started.
    private let detached = Mutex(false)

    init(_ request: AttachRequest, mode: AttachMode, control: NBDKernelControl, deviceIndex: Int?,
         ledger: RunLedger?) throws {
        self.mode = mode
        self.ledger = ledger
        var entries: [Int] = []
        var options = QemuNBDOptions(format: request.format.rawValue)
        options.readOnly = request.readOnly
        options.shared = 0         // the reader plus the kernel's connections; also advertises CAN_MULTI_CONN
        options.persistent = true  // a connection closing (the reader's) must not end the server
        let serverEntry = try ledger?.intend(.child(command: "qemu-nbd", pid: nil, startTime: nil))
        let server: QemuNBDServer
        do {
            server = try QemuNBDServer(image: request.image, options: options)
        } catch {
            if let serverEntry { try? ledger?.released(serverEntry) }
            throw error
        }
        if let serverEntry {
            try? ledger?.held(serverEntry, .child(command: "qemu-nbd", pid: server.pid, startTime: ProcFS.startTime(of: server.pid)))
            entries.append(serverEntry)
        }
        do {
            let reader = try NBDConnection.connect(unixSocket: server.socketPath)
            let sockets = try Self.kernelSockets(server, count: reader.export.canMultiConn ? Self.connectionCount : 1)
            let export = reader.export
            let identifier = ledger?.backendIdentifier ?? "qemu-chroot:\(getpid())"
            let nbdEntry = try ledger?.intend(.nbd(index: deviceIndex ?? -1, backendIdentifier: identifier))
            let request = NBDKernelRequest(
                sockets: sockets.map(\.socket), size: export.size,
                blockSize: UInt64(max(512, min(4096, export.minimumBlockSize))),
                serverFlags: sockets[0].flags, readOnly: request.readOnly, backendIdentifier: identifier,
                deviceIndex: deviceIndex)
            do {
                attachment = try NBDKernelAttachment(control: control, request: request)
            } catch {
                if let nbdEntry { try? ledger?.released(nbdEntry) }
                reader.disconnect()
                throw error
            }
            if let nbdEntry {
                try? ledger?.held(nbdEntry, .nbd(index: attachment.device.index, backendIdentifier: identifier))
                entries.append(nbdEntry)
            }
            self.reader = reader
        } catch {
            try? server.stop()
            if let serverEntry { try? ledger?.released(serverEntry) }
            throw error
        }
        self.server = server
        self.ledgerEntries = entries
        Log.info("attached \(request.image) as \(attachment.device.path) (nbd over \(attachment.device.mechanism))")
    }

    /// Up to 4 connections when the server allows several: one per CPU, for parallel I/O queues.
    private static var connectionCount: Int { max(1, min(4, sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// `count` connections negotiated for the kernel: no structured replies, nothing in flight.
    private static func kernelSockets(_ server: QemuNBDServer, count: Int) throws -> [(socket: FileDescriptor, flags: UInt16)] {
        try (0..<count).map { _ in
            let connection = try NBDConnection.connect(unixSocket: server.socketPath,
                                                       options: .forKernel(exportName: server.exportName))
            return (try connection.takeSocketForKernel(), connection.export.transmissionFlags.rawValue)
        }
    }

    func blockDevice(number: Int, offset: UInt64, size: UInt64) throws -> String {
        try detached.withLock { detached in
            guard !detached else { throw AttachError("\(server.image) was detached; no new devices for it") }
            guard size > 0, offset <= reader.size, size <= reader.size - offset else {
                throw AttachError("volume \(number) at \(offset)+\(size) lies outside the \(reader.size)-byte disk of \(server.image)")
            }
            if number == 0 && (offset != 0 || size != reader.size) {
                throw AttachError("volume 0 (whole disk) of \(server.image) must span the whole disk")
            }
            return try attachment.blockDevice(number: number, offset: offset, size: size)
        }
    }

    func flush() throws { try attachment.flush() }

    var serverFailure: String? { server.failure }

    /// Kernel side first (partitions, flush, DISCONNECT), then the reader, then qemu-nbd (flushes the image on
    /// SIGTERM). Every step runs; the first error is thrown.
    func detach() throws {
        let first: Bool = detached.withLock { detached in
            defer { detached = true }
            return !detached
        }
        guard first else { return }
        var errors = Teardown.Errors()
        errors.attempt("detach \(attachment.device.path)") { try attachment.detach() }
        reader.disconnect()
        errors.attempt("stop qemu-nbd for \(server.image)") { try server.stop() }
        for entry in ledgerEntries.reversed() { try? ledger?.released(entry) }
        try errors.rethrow()
    }

    /// Never blocks: the owner detaches; the device, the reader and the server each release what they can
    /// without waiting as they go.
    deinit {
        if !detached.withLock({ $0 }) { Log.warning("\(server.image) was not detached from \(attachment.device.path) by its owner") }
    }
}
