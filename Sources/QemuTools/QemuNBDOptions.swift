/// How to serve an image with qemu-nbd. Every choice is passed explicitly; in particular the format, so a raw
/// image is never probed (a guest could otherwise write a QCOW2 header into it and change how it is read).
public struct QemuNBDOptions: Sendable {
    /// qemu's `--cache` modes. `none` opens with O_DIRECT (no double caching); `unsafe` ignores flushes.
    public enum Cache: String, Sendable, CaseIterable { case none, writeback, writethrough, directsync, unsafe }
    /// qemu's `--aio` modes; `native` requires `cache: .none` (qemu-nbd refuses to open otherwise).
    public enum AIO: String, Sendable, CaseIterable { case threads, native, ioUring = "io_uring" }
    /// `unmap` lets TRIM free QCOW2 clusters; `ignore` (qemu's default) drops trims.
    public enum Discard: String, Sendable, CaseIterable { case ignore, unmap }
    /// `unmap` turns written zeroes into discards and needs `discard: .unmap`.
    public enum DetectZeroes: String, Sendable, CaseIterable { case off, on, unmap }

    /// qemu's format name, e.g. "qcow2" or "raw" (`--format`).
    public var format: String
    /// The export name clients ask for (`--export-name`); "" is the default export.
    public var exportName = ""
    /// Sent to clients that list exports (`--description`).
    public var description: String?
    public var readOnly = false
    /// Simultaneous clients (`--shared`); 0 = unlimited. Any value but 1 makes qemu-nbd advertise
    /// CAN_MULTI_CONN, which a multi-connection client (or a kernel attach with several sockets) needs.
    public var shared = 1
    /// Keep serving after the last client leaves (`--persistent`). Without it qemu-nbd exits as soon as its
    /// first client disconnects, so a probe connection made before the real one would end the server.
    public var persistent = false
    public var cache: Cache?
    public var aio: AIO?
    public var discard: Discard?
    public var detectZeroes: DetectZeroes?
    /// How long to wait for qemu-nbd to listen before giving up.
    public var startTimeout = 15.0
    /// How long `stop()` waits after SIGTERM (qemu-nbd flushes the image then) before SIGKILL.
    public var stopGrace = 30.0

    public init(format: String) {
        self.format = format
    }

    /// Checks combinations qemu-nbd 7.2 would reject with a less helpful message.
    func validate() throws {
        let nameCharacters = Set("abcdefghijklmnopqrstuvwxyz0123456789-_")
        if format.isEmpty || !format.allSatisfy(nameCharacters.contains) {
            throw QemuNBDError.invalidOptions("the image format '\(format)' is not a qemu format name (use qcow2 or raw)")
        }
        if shared < 0 { throw QemuNBDError.invalidOptions("shared must be 0 (unlimited) or a positive number of clients") }
        if aio == .native && cache != QemuNBDOptions.Cache.none {
            throw QemuNBDError.invalidOptions("aio 'native' needs cache 'none' (qemu-nbd opens the image with O_DIRECT only then)")
        }
        if detectZeroes == .unmap && discard != .unmap {
            throw QemuNBDError.invalidOptions("detect-zeroes 'unmap' needs discard 'unmap'")
        }
    }

    /// The command line after `qemu-nbd`. `--discard` comes before `--detect-zeroes`: qemu 7.2 rejects
    /// `--detect-zeroes=unmap` unless discard=unmap was already parsed.
    func arguments(image: String, socket: String) -> [String] {
        var args = ["--format=\(format)", "--socket=\(socket)", "--export-name=\(exportName)", "--shared=\(shared)"]
        if let description { args.append("--description=\(description)") }
        if readOnly { args.append("--read-only") }
        if persistent { args.append("--persistent") }
        if let cache { args.append("--cache=\(cache.rawValue)") }
        if let aio { args.append("--aio=\(aio.rawValue)") }
        if let discard { args.append("--discard=\(discard.rawValue)") }
        if let detectZeroes { args.append("--detect-zeroes=\(detectZeroes.rawValue)") }
        // "--" so an image path starting with "-" is not read as an option; "./" so a relative name with a colon
        // ("nbd:x", "json:{...}") is not taken for a qemu protocol prefix.
        args += ["--", image.hasPrefix("/") ? image : "./" + image]
        return args
    }
}
