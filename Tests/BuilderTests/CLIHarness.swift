import Builder
import Glibc
import NBDCore
import Testing
import TestSupport

/// Runs the built `qemu-chroot` binary as a child process: the CLI enters its own mount namespace, which
/// the multi-threaded test runner cannot do for itself.
enum CLI {
    static let requirements = Host.missing(programs: ["qemu-img", "qemu-storage-daemon", "mkfs.ext4", "busybox"],
                                           root: true, loop: true, fuse: true)

    /// Next to the test bundle in the build directory (swift build --build-tests builds it too).
    static var binary: String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let exe = String(cString: Array(buffer[0..<max(0, length)]) + [0])
        let directory = exe.split(separator: "/").dropLast().joined(separator: "/")
        return "/" + directory + "/qemu-chroot"
    }

    @discardableResult
    static func run(_ arguments: [String], in directory: String) throws -> CommandResult {
        try Command.run(binary, arguments, directory: directory)
    }

    /// Starts `build template` in `directory` and returns once `marker` exists (a shell-local provisioner
    /// touches it) or the build has ended, whichever comes first within `seconds`.
    static func startBuild(_ template: String, in directory: String, until marker: String, seconds: Double) throws -> ChildProcess {
        var options = SpawnOptions()
        options.directory = directory
        let child = try ChildProcess.spawn(binary, ["build", template], options: options)
        _ = Poll.until(seconds: seconds) { HostPath.exists(marker) || child.poll() != nil }
        return child
    }

    /// Builds `image` with a `shell` provisioner running `command` (after a shell-local one that marks the
    /// start of provisioning) and kills the build with SIGKILL once a host process with argument `running`
    /// shows, for the tests of what a killed build leaves behind. `seconds` bounds the wait for provisioning.
    static func killBuild(in directory: String, image: String, name: String = "t.json", builder: String = "",
                          command: String, once running: String, seconds: Double,
                          sourceLocation: SourceLocation = #_sourceLocation) throws {
        let marker = "\(directory)/provisioning-started"
        let template = try template(in: directory, name: name, image: image, builder: builder, provisioners: #"""
            [{"type": "shell-local", "inline": ["touch \#(marker)"]},
             {"type": "shell", "inline": ["\#(command)"]}]
            """#)
        let child = try startBuild(template, in: directory, until: marker, seconds: seconds)
        #expect(HostPath.exists(marker), "the build never reached its provisioners", sourceLocation: sourceLocation)
        _ = Poll.until(seconds: 30) { !hostProcesses(withArgument: running).isEmpty }
        #expect(!hostProcesses(withArgument: running).isEmpty, "the provisioner's \(running) should be running",
                sourceLocation: sourceLocation)
        child.signal(SIGKILL)
        _ = child.wait()
    }

    /// A busybox sample image in `directory`.
    static func sampleImage(in directory: String, name: String = "base.qcow2", extra: [String] = []) throws -> String {
        let result = try run(["sample-image"] + extra + [name], in: directory)
        guard result.status.isSuccess else { throw BuildError("sample-image failed: \(result.stderr)") }
        return "\(directory)/\(name)"
    }

    /// Writes a template with one qemu-chroot builder (`builder` adds options) and `provisioners` (JSON).
    static func template(in directory: String, name: String = "t.json", image: String, builder: String = "",
                         provisioners: String = "[]") throws -> String {
        let extra = builder.isEmpty ? "" : ", " + builder
        let text = #"{"builders": [{"type": "qemu-chroot", "name": "test", "source_image": "\#(image)"\#(extra)}], "provisioners": \#(provisioners)}"#
        try writeFile("\(directory)/\(name)", text)
        return "\(directory)/\(name)"
    }

    /// `count` templates on `image` for builds side by side: template N (tN.json) writes N to /which, waits a
    /// second so the builds overlap, and builds into outN.
    static func numberedTemplates(_ count: Int, in directory: String, image: String) throws -> [String] {
        try (0..<count).map { index in
            try template(in: directory, name: "t\(index).json", image: image, builder: #""output_directory": "out\#(index)""#,
                         provisioners: #"[{"type": "shell", "inline": ["echo \#(index) > /which", "sleep 1"]}]"#)
        }
    }

    /// `program` with `arguments` started in `directory`, not waited for.
    static func spawn(_ program: String, _ arguments: [String], in directory: String) throws -> ChildProcess {
        var options = SpawnOptions()
        options.directory = directory
        return try ChildProcess.spawn(program, arguments, options: options)
    }

    /// `script` run by `qemu-chroot shell --read-only` in `image`: its `key=value` output lines, by key.
    static func readBack(_ image: String, _ script: String, in directory: String) throws -> [String: String] {
        let result = try run(["shell", "--read-only", image, "--", "/bin/sh", "-c", script], in: directory)
        guard result.status.isSuccess else { throw BuildError("reading back \(image) failed: \(result.stderr)") }
        return keyValues(result.stdout)
    }

    static func keyValues(_ output: String) -> [String: String] {
        var values: [String: String] = [:]
        for line in output.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            values[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return values
    }

    /// Loop devices, processes and mounts that still refer to `directory` after a build: must be none.
    static func leftovers(under directory: String) -> [String] {
        var found: [String] = []
        for name in (try? FileTree.entries("/sys/block")) ?? [] where name.hasPrefix("loop") {
            if let backing = ProcFS.readText("/sys/block/\(name)/loop/backing_file"), backing.contains(directory) {
                found.append("/dev/\(name) backed by \(backing.trimmingWhitespace())")
            }
        }
        for pid in ProcFS.pids() {
            if let commandLine = ProcFS.readText("/proc/\(pid)/cmdline"), commandLine.contains(directory),
               !commandLine.contains("qemu-chrootPackageTests") {
                found.append("process \(pid): \(commandLine.replacingOccurrences0())")
            }
        }
        if let mounts = ProcFS.readText("/proc/self/mountinfo"), mounts.contains(directory) {
            found.append("a mount under \(directory)")
        }
        return found
    }
}

extension String {
    func replacingOccurrences0() -> String { split(separator: "\0").joined(separator: " ") }
}
