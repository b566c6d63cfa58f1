@testable import packer_builder_qemu_chroot
@testable import Builder
import NBDCore
@testable import PackerRPC
import Synchronization
import Testing
import TestSupport

private final class RecordingUi: PluginUi {
    private let recorded = Mutex<[String]>([])
    var calls: [String] { recorded.withLock { $0 } }
    func say(_ text: String) { record("say \(text)") }
    func message(_ text: String) { record("message \(text)") }
    func error(_ text: String) { record("error \(text)") }
    func machine(_ category: String, _ arguments: [String]) { record("machine \(category)") }
    private func record(_ call: String) { recorded.withLock { $0.append(call) } }
}

@Suite struct QemuChrootPluginTests {
    @Test func buildOutputLinesBecomeUiCalls() {
        let ui = RecordingUi()
        let output = PluginUiOutput.make(ui, buildName: "b")
        output.say("attaching", target: "b")
        output.message("detail", target: "b")
        output.error("broken", target: "b")
        output.say("run-wide", target: "")
        #expect(ui.calls == ["say attaching", "message detail", "error broken", "message ==> run-wide"])
    }

    @Test func provisionDataHasPackersKeysAsStrings() {
        let data = PluginBuild.provisionData(["Device": "/dev/loop3", "MountPath": "/mnt/x"])
        #expect(data["Device"] == .string("/dev/loop3"))
        #expect(data["MountPath"] == .string("/mnt/x"))
        #expect(data["PackerHTTPAddr"] == .string("ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER"))
        #expect(data["ConnType"] == .string("chroot"))
    }

    @Test func prepareReportsEveryProblemAndDeclaresGeneratedVariables() {
        let plugin = QemuChrootPlugin()
        let bad = plugin.prepare([
            .object(["format": "vdi", "mount_partitoin": .float(2)]),
            .object(["packer_build_name": "b", "packer_builder_type": "qemu-chroot", "packer_force": .bool(false)]),
        ])
        let message = bad.error ?? ""
        #expect(message.contains("b.source_image: is required"))
        #expect(message.contains("b.format: \"vdi\" is not one of qcow2, raw, vmdk, vhdx, vpc"))
        #expect(message.contains("did you mean \"mount_partition\""))
        let directory = try! TemporaryDirectory()
        let image = directory.file("source.raw")
        _ = try! Command.run("/bin/touch", [image])
        let good = plugin.prepare([.object(["source_image": .string(image)]), .nil])
        #expect(good.error == nil, "\(good.error ?? "")")
        #expect(good.generatedVariables == QemuChrootPlugin.generatedVariables)
    }

    @Test func userVariablesAndBuildNameAreRendered() throws {
        let directory = try TemporaryDirectory()
        let image = directory.file("source.raw")
        try Command.check("/bin/touch", [image])
        let prepared = try PreparedBuild(try PackerConfigs([
            .object(["source_image": .string(image), "image_name": "{{user `name`}}-{{build_name}}.qcow2"]),
            .object(["packer_user_variables": .object(["name": "web"]), "packer_build_name": "b1",
                     "packer_template_path": "/srv/t/template.json", "packer_force": .bool(true)]),
        ]))
        #expect(prepared.config.imageName == "web-b1.qcow2")
        #expect(prepared.name == "b1")
        #expect(prepared.force)
        #expect(prepared.context.templateDirectory == "/srv/t")
    }

    @Test func unsupportedPackerFlagsAreWarnings() throws {
        let configs = try PackerConfigs([.object(["packer_debug": "true", "packer_on_error": "abort"])])
        #expect(QemuChrootPlugin.unsupportedFlags(configs).count == 2)
        let quiet = try PackerConfigs([.object(["packer_debug": .bool(false), "packer_on_error": ""])])
        #expect(QemuChrootPlugin.unsupportedFlags(quiet).isEmpty)
    }

    /// What Packer's internal/hcp/registry decodes (mapstructure into []registryimage.Image): without it a
    /// build with HCP Packer enabled fails with "No HCP Packer-compatible artifacts were found".
    @Test func artifactStateHasHCPPackerImageMetadata() throws {
        let artifact = ImageArtifact(Artifact(buildName: "b", path: "/srv/out/disk.qcow2", format: .qcow2, size: 42, sha256: "ab"),
                                     generatedData: ["Device": "/dev/loop1"], sourceImage: "/srv/base.qcow2", format: "qcow2")
        let images = try #require(artifact.state("par.artifact.metadata").arrayValue)
        #expect(images.count == 1)
        let image = try #require(images.first)
        #expect(image["ImageID"] == .string("disk.qcow2"))
        #expect(image["ProviderName"] == .string("qemu-chroot"))
        #expect(image["ProviderRegion"] == .string("/srv/out"))
        #expect(image["SourceImageID"] == .string("/srv/base.qcow2"))
        #expect(image["Labels"]?["sha256"] == .string("ab"))
        #expect(image["Labels"]?["size"] == .string("42"))
        #expect(artifact.state("generated_data")["Device"] == .string("/dev/loop1"))
        #expect(artifact.state("unknown") == .nil)
    }

    @Test func amazonChrootKeysNameTheirEquivalent() {
        let result = QemuChrootPlugin().prepare([.object(["root_volume_size": .float(8), "nvme_device_path": "/dev/nvme1n1"]), .nil])
        let message = result.error ?? ""
        #expect(message.contains("root_volume_size: unknown option (amazon-chroot's); the equivalent here is \"disk_size\""), "\(message)")
        #expect(message.contains("nvme_device_path: unknown option (amazon-chroot's); the equivalent here is \"device_path\""), "\(message)")
    }

    @Test func runWithoutRootSaysWhy() {
        let plugin = QemuChrootPlugin(runBlocker: "needs root")
        #expect(throws: (any Error).self) {
            _ = try plugin.run(ui: RecordingUi(), hook: NoHook(), cancellation: .init())
        }
    }
}

private final class NoHook: ProvisionHook {
    func provision(data: MsgPackValue, register: @escaping (RPCServer, MuxBroker) -> Void, cancellation: Cancellation) throws {}
}
