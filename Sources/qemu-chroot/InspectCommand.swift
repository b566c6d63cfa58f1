import ArgumentParser
import Glibc
import NBDCore

/// `qemu-chroot inspect IMAGE [--json]`: the image's format, partition table, partitions, filesystems and
/// the default root, read only through our user-space NBD client from a read-only qemu-nbd; as root, also
/// the root a build chooses by looking inside and the filesystem tree it mounts, from a read-only attach.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show an image's format, partitions, filesystems, its root and what a build would mount where.",
        discussion: """
            Reads the image read-only through qemu-nbd and a user-space NBD client. As root (and without \
            --blocks-only) it also attaches the image read-only and mounts its filesystems read-only on private \
            directories, to show the root a build chooses and the mount plan from the image's /etc/fstab; \
            everything is released before it prints.
            """
    )

    @Argument(help: "A QCOW2 or raw disk image.")
    var image: String

    @Flag(name: .long, help: "Print the stable JSON document described in docs/inspect.md.")
    var json = false

    @Flag(name: .customLong("allow-backing-file"), help: "Also read the backing files (and external data file) the image names.")
    var allowBackingFile = false

    @Flag(name: .customLong("blocks-only"), help: "Read blocks only (fast, no attach, no mount): no mount plan.")
    var blocksOnly = false

    @OptionGroup var tree: FilesystemTreeFlags

    @OptionGroup var global: GlobalOptions

    func run() throws {
        global.apply()
        var unavailable = InspectMounts.blocker(blocksOnly: blocksOnly)
        let cancellation = Cancellation()
        if unavailable == nil {
            // Before any thread starts: the namespace must be the whole process's.
            do {
                try MountNamespace.enterPrivate()
                SignalCancellation.install(cancellation)
            } catch {
                unavailable = "no private mount namespace (\(error))"
            }
        }
        var report: InspectReport
        do {
            report = try InspectReport.read(image: image, allowBackingFile: allowBackingFile)
        } catch {
            // One line naming the file and the problem, never a trace.
            let text = "\(error)".split(whereSeparator: \.isNewline).map { String($0).trimmingWhitespace() }.joined(separator: "; ")
            let named = text.contains(image) ? text : "\(image): \(text)"
            StandardStream.error("qemu-chroot inspect: \(named)\n")
            throw ExitCode.failure
        }
        if unavailable == nil {
            do {
                report.mounts = try InspectMounts.read(image: image, format: report.info.format, tree: tree.options,
                                                       cancellation: cancellation)
                // A signal during the last step: released like any other run, and not a finished report.
                if cancellation.isCancelled { throw CancelledError(cancellation.cancelReason) }
            } catch let error as CancelledError {
                Log.error("\(error); everything was released")
                throw ExitCode(130)
            } catch {
                unavailable = "\(error)".split(whereSeparator: \.isNewline).joined(separator: "; ")
            }
        }
        report.mountPlanUnavailable = unavailable
        print(json ? report.json.rendered(htmlSafe: false) : report.text)
    }
}

/// What `inspect` found: the image header's view and the disk layout read over NBD.
struct InspectReport {
    let info: ImageInfo
    let layout: DiskLayout
    /// The root rule's layout-level part: settled, or the candidates build and shell look inside.
    let rootCandidates: RootCandidates?
    /// Why there are none (a damaged volume list), when `rootCandidates` is nil.
    let rootProblem: String?
    /// The root chosen by looking inside and the mount plan, when the image could be attached.
    var mounts: InspectMounts?
    /// Why `mounts` is nil.
    var mountPlanUnavailable: String?

    /// The root build and shell mount (when `mounts` is known), else the settled root or the first candidate.
    var chosenRoot: RootCandidate? {
        mounts?.rootChoice.candidate ?? rootCandidates?.settled?.candidate ?? rootCandidates?.candidates.first
    }

    /// `chosenRoot` as a partition number (0 = whole disk); nil for an LV or none.
    var root: Int? {
        guard let volume = chosenRoot?.volume else { return nil }
        switch volume.source {
        case .wholeDisk, .partition: return volume.number
        case .logicalVolume: return nil
        }
    }

    /// The image's architecture: from the root's /bin/sh (else /sbin/init) ELF header when the image could be
    /// attached and the header read, as build and shell decide it; else the one the root's DPS partition type
    /// names (blocks only).
    var architecture: Architecture? {
        if let elf = mounts?.architecture.architecture { return elf }
        return partitionTypeArchitecture
    }

    var architectureSource: String {
        if let found = mounts?.architecture, found.architecture != nil {
            return "the ELF header of \(found.evidence)" + (found.osName.map { "; the image says \($0)" } ?? "")
        }
        let noELF = mounts.map { "no ELF header read (\($0.architecture.evidence)); " } ?? ""
        return noELF + (partitionTypeArchitecture == nil
            ? "the root's partition type names none; build and shell read /bin/sh's ELF header"
            : "the root's DPS partition type; build and shell confirm it from /bin/sh's ELF header")
    }

    private var partitionTypeArchitecture: Architecture? {
        guard case .partition(let number) = chosenRoot?.volume.source,
              case .root(let architecture)? = layout.partitions.first(where: { $0.number == number })?.type.role else { return nil }
        return architecture
    }

    /// Probes the header, serves the image read-only with its format stated explicitly, reads the layout.
    static func read(image: String, allowBackingFile: Bool) throws -> InspectReport {
        let info = try BackingChain.read(image, allowOtherFiles: allowBackingFile).source
        var options = QemuNBDOptions(format: info.format.rawValue)
        options.readOnly = true
        let server = try QemuNBDServer(image: image, options: options)
        defer { try? server.stop() }
        let connection = try NBDConnection.connect(unixSocket: server.socketPath,
                                                   options: NBDHandshakeOptions(exportName: server.exportName))
        defer { connection.disconnect() }
        let layout = try DiskLayout.read(from: connection)
        do {
            // As build and shell see them: LVs of several segments only where device-mapper can join them.
            let volumes = try ImageVolumes.read(layout, disk: connection, mapsSegments: DeviceMapper.unavailableReason == nil)
            return InspectReport(info: info, layout: layout,
                                 rootCandidates: try layout.rootCandidates(mountPartition: nil, volumes: volumes), rootProblem: nil,
                                 mounts: nil, mountPlanUnavailable: nil)
        } catch {
            return InspectReport(info: info, layout: layout, rootCandidates: nil, rootProblem: "\(error)",
                                 mounts: nil, mountPlanUnavailable: nil)
        }
    }
}
