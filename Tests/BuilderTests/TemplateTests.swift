import NBDCore
import Builder
import Testing
import TestSupport

@Suite struct TemplateTests {
    let image: TemporaryDirectory
    let imagePath: String

    init() throws {
        image = try TemporaryDirectory()
        imagePath = image.file("base.qcow2")
        try writeFile(imagePath, "not really an image")
    }

    func plan(_ json: String, _ configure: (inout BuildPlan.Options) -> Void = { _ in }) throws -> BuildPlan {
        var options = BuildPlan.Options()
        options.environment = ["HOME": "/root", "FLAVOR": "bookworm"]
        options.startTime = 1_700_000_000
        configure(&options)
        return try BuildPlan.make(try Template.parse(json), options: options)
    }

    func problems(_ json: String, _ configure: (inout BuildPlan.Options) -> Void = { _ in }) -> [String] {
        do {
            _ = try plan(json, configure)
            return []
        } catch let error as TemplateErrors {
            return error.problems.map(\.description)
        } catch {
            return ["unexpected: \(error)"]
        }
    }

    @Test func defaultsFollowTheSeed() throws {
        let build = try plan(#"{"builders": [{"type": "qemu-chroot", "source_image": "\#(imagePath)"}]}"#).builds[0]
        #expect(build.name == "qemu-chroot")
        #expect(build.config.outputDirectory == "output-qemu-chroot")
        #expect(build.config.imageName == "packer-qemu-chroot.qcow2")
        #expect(build.config.copyFiles == ["/etc/resolv.conf"])
        #expect(build.config.commandWrapper == "{{.Command}}")
        #expect(build.config.mountPath == "/mnt/packer-builder-qemu-chroot/{{.RunID}}/{{.Device}}")
        #expect(build.config.mountPartition == nil)
        #expect(build.config.chrootMounts == nil)
        #expect(build.config.compression == false)
        #expect(build.config.format == .qcow2)
    }

    @Test func sourcePathIsAnAliasAndRawChangesTheExtension() throws {
        let build = try plan(#"{"builders": [{"type": "qemu-chroot", "name": "web", "source_path": "\#(imagePath)", "format": "raw", "copy_files": []}]}"#).builds[0]
        #expect(build.config.sourceImage == imagePath)
        #expect(build.config.imageName == "packer-web.raw")
        #expect(build.config.outputDirectory == "output-web")
        #expect(build.config.copyFiles == [])
    }

    @Test func variablesEnvFunctionsAndOverrides() throws {
        let json = #"""
        {"variables": {"flavor": "{{env `FLAVOR`}}", "name": "img-{{user `flavor`}}", "size": "2G", "required": null},
         "builders": [{"type": "qemu-chroot", "source_image": "\#(imagePath)", "image_name": "{{user `name`}}-{{isotime \"20060102\"}}",
                       "output_directory": "out/{{build_name}}-{{build_type}}-{{timestamp}}", "disk_size": "{{user `size`}}",
                       "mount_path": "/mnt/x/{{.Device}}", "command_wrapper": "env A=1 {{.Command}}",
                       "chroot_mounts": [["proc", "proc", "/proc"], ["ext4", "/dev/x", "/usr", "ro", "noatime"]]}]}
        """#
        let build = try plan(json) { $0.overrides = [try! VariableValues.parseFlag("required=yes"), try! VariableValues.parseFlag("size=3G")] }.builds[0]
        #expect(build.config.imageName == "img-bookworm-20231114")
        #expect(build.config.outputDirectory == "out/qemu-chroot-qemu-chroot-1700000000")
        #expect(build.config.diskSize == 3 << 30)
        #expect(build.config.mountPath == "/mnt/x/{{.Device}}")
        #expect(build.config.chrootMounts?[1] == ChrootMount(fstype: "ext4", source: "/dev/x", target: "/usr", options: ["ro", "noatime"]))
    }

    @Test func everyProblemIsReportedWithItsLocationAndSuggestions() {
        let json = #"""
        {"variable": {},
         "builders": [{"type": "qemu-chroot", "sorce_image": "x", "compression": "maybe", "mount_partition": -1,
                       "format": "qcow", "chroot_mounts": [["proc", "/proc"]], "mount_path": "{{.Devce}}"}],
         "provisioners": [{"type": "shell"}, {"type": "ansible"}, {"type": "file", "source": "/nonexistent", "destination": "/x", "only": ["qemu-chrot"]}]}
        """#
        let found = problems(json)
        let expected = [
            "variable: unknown top-level key; did you mean \"variables\"?",
            "builders[0].sorce_image: unknown option; did you mean \"source_image\"?",
            "builders[0].source_image: is required",
            "builders[0].compression: expected a boolean, got \"maybe\"",
            "builders[0].mount_partition: must be 0",
            "builders[0].format: \"qcow\" is not one of qcow2, raw, vmdk, vhdx, vpc; did you mean \"qcow2\"?",
            "builders[0].chroot_mounts[0]: expected [fstype, source, target, options...], got 2 element(s)",
            "builders[0].mount_path: unknown field {{.Devce}}",
            "provisioners[0].inline: one of inline, script or scripts is required",
            "provisioners[1].type: provisioner type \"ansible\" is not supported by the standalone runner; use packer build",
            "provisioners[2].source: \"/nonexistent\" does not exist on the host",
            "provisioners[2].only: no builder is named \"qemu-chrot\"; did you mean \"qemu-chroot\"?",
        ]
        for prefix in expected {
            #expect(found.contains { $0.hasPrefix(prefix) }, "missing \(prefix) in \(found)")
        }
    }

    @Test func syntaxErrorsNameTheLine() {
        #expect(problems("{\n \"builders\": [,]\n}").first?.contains("line 2") == true)
        #expect(problems(String(repeating: "[", count: 500)).first?.contains("nesting") == true)
    }

    @Test func requiredVariablesAndUnknownOverrides() {
        let found = problems(#"{"variables": {"need": null}, "builders": [{"type": "qemu-chroot", "source_image": "\#(imagePath)"}]}"#) {
            $0.overrides = [try! VariableValues.parseFlag("ned=1")]
            $0.only = ["qemu"]
        }
        #expect(found.contains { $0.contains("variable \"ned\" is not declared") && $0.contains("did you mean \"need\"") })
        #expect(found.contains { $0.hasPrefix("variables.need: required variable is not set") })
        #expect(found.contains { $0.hasPrefix("-only: no builder is named \"qemu\"") })
    }

    @Test func onlyAndExceptSelectBuildsAndProvisioners() throws {
        let json = #"""
        {"builders": [{"type": "qemu-chroot", "name": "a", "source_image": "\#(imagePath)"},
                      {"type": "qemu-chroot", "name": "b", "source_image": "\#(imagePath)"}],
         "provisioners": [{"type": "shell", "inline": ["echo a"], "only": ["a"]}, {"type": "shell", "inline": ["echo b"], "except": ["a"]}]}
        """#
        let all = try plan(json)
        #expect(all.builds.map(\.name) == ["a", "b"])
        #expect(all.builds[0].provisioners.map(\.index) == [0])
        #expect(all.builds[1].provisioners.map(\.index) == [1])
        #expect(try plan(json) { $0.except = ["a"] }.builds.map(\.name) == ["b"])
        #expect(try plan(json) { $0.only = ["a"] }.builds.map(\.name) == ["a"])
    }

    @Test func goTimeLayouts() {
        #expect(GoTimeLayout.format(seconds: 1_700_000_000, layout: GoTimeLayout.rfc3339) == "2023-11-14T22:13:20Z")
        #expect(GoTimeLayout.format(seconds: 1_700_000_000, layout: "Jan _2 03:04PM 06 Monday") == "Nov 14 10:13PM 23 Tuesday")
    }

    @Test func diskSizes() throws {
        let context = TemplateContext()
        #expect(try DiskSize.parse(.number(512), context: context) == 512 << 20)
        #expect(try DiskSize.parse(.string("2GiB"), context: context) == 2 << 30)
        #expect(throws: (any Error).self) { try DiskSize.parse(.string("lots"), context: context) }
    }
}
