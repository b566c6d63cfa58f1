@testable import PackerRPC
import NBDCore
import Testing

/// A builder that records what Packer sent and provisions through a tiny "Echo" service.
// @unchecked: the test sets `configSpec` and `blockUntilCancelled` before the plugin serves; `preparedWith` is
// written by the one Builder.Prepare call and read after its reply arrived, which orders the two.
private final class FakeBuilder: PluginBuilder, @unchecked Sendable {
    var configSpec = ConfigSpec([.init("source_image", .string, required: true), .init("tags", .list(.string))])
    var preparedWith: [MsgPackValue] = []
    var blockUntilCancelled = false

    func prepare(_ configs: [MsgPackValue]) -> PrepareOutcome {
        preparedWith = configs
        if configs.first?["source_image"] == nil { return PrepareOutcome(error: "source_image: is required") }
        return PrepareOutcome(warnings: ["careful"], generatedVariables: ["Device"])
    }

    func run(ui: PluginUi, hook: ProvisionHook, cancellation: Cancellation) throws -> PluginArtifact? {
        ui.say("attaching")
        if blockUntilCancelled {
            while !cancellation.isCancelled { HostThread.sleep(0.01) }
            throw CancelledError(cancellation.cancelReason)
        }
        try hook.provision(data: .object(["Device": .string("/dev/loop9")]), register: { server, _ in
            server.register("Echo.Twice") { body in .string((body.stringValue ?? "") + (body.stringValue ?? "")) }
        }, cancellation: cancellation)
        return FakeArtifact()
    }
}

private final class FakeArtifact: PluginArtifact {
    let builderID = "summerwind.qemu-chroot", id = "out/image.qcow2", files = ["out/image.qcow2"]
    let summary = "Image files in directory: out"
    func state(_ name: String) -> MsgPackValue { name == "generated_data" ? .object(["Device": .string("/dev/loop9")]) : .nil }
    func destroy() throws { throw RPCFailure("cannot remove out") }
}

@Suite(.timeLimit(.minutes(1))) struct BuilderServiceTests {
    @Test func prepareRepliesWithWarningsErrorsAndGeneratedVars() throws {
        let plugin = FakeBuilder()
        let host = try FakeHost(plugin: plugin)
        let config = MsgPackValue.object(["source_image": .string("a.qcow2")])
        let ok = try host.builder.call("Builder.Prepare", .object(["Configs": .array([config, .nil])]))
        #expect(ok == .object(["GeneratedVars": .strings(["Device"]), "Warnings": .strings(["careful"]), "Error": .nil]))
        #expect(plugin.preparedWith == [config, .nil])
        let bad = try host.builder.call("Builder.Prepare", .object(["Configs": .array([.nil])]))
        #expect(bad["Error"]?["Message"] == .string("source_image: is required"))
    }

    @Test func configSpecIsGobInABinField() throws {
        let plugin = FakeBuilder()
        let host = try FakeHost(plugin: plugin)
        let reply = try host.builder.call("Builder.ConfigSpec")
        #expect(reply["ConfigSpec"] == .binary(plugin.configSpec.gob()))
    }

    @Test func runProvisionsThroughTheHookAndServesTheArtifact() throws {
        let host = try FakeHost(plugin: FakeBuilder())
        var provisionedData: MsgPackValue = .nil
        host.onProvision = { client, data in
            provisionedData = data
            #expect(try client.call("Echo.Twice", .string("ab")) == .string("abab"))
            // Ui calls from provisioners are forwarded to the host's Ui.
            _ = try client.call("Ui.Message", .string("from provisioner"))
        }
        let reply = try host.run()
        #expect(provisionedData["Device"] == .string("/dev/loop9"))
        #expect(host.said == ["Ui.Say attaching", "Ui.Message from provisioner"])
        let artifactID = try #require(reply.uint32Value)
        #expect(artifactID != 0)
        let artifact = try host.artifact(artifactID)
        #expect(try artifact.call("Artifact.BuilderId") == .string("summerwind.qemu-chroot"))
        #expect(try artifact.call("Artifact.Files") == .strings(["out/image.qcow2"]))
        #expect(try artifact.call("Artifact.Id") == .string("out/image.qcow2"))
        #expect(try artifact.call("Artifact.String") == .string("Image files in directory: out"))
        #expect(try artifact.call("Artifact.State", .string("generated_data"))["Device"] == .string("/dev/loop9"))
        #expect(try artifact.call("Artifact.State", .string("other")) == .nil)
        #expect(throws: RPCError.remote("cannot remove out")) { try artifact.call("Artifact.Destroy") }
    }

    @Test func cancelArrivesWhileRunIsPending() throws {
        let plugin = FakeBuilder()
        plugin.blockUntilCancelled = true
        let host = try FakeHost(plugin: plugin)
        let run = onThread { try host.run() }
        HostThread.sleep(0.2)
        #expect(try host.builder.call("Builder.Cancel") == .nil)
        #expect(throws: RPCError.remote("build was cancelled")) { try run() }
    }

    @Test func launchFormsFromArgv() {
        #expect(PluginLaunch.parse(["/x/packer-builder-qemu-chroot"]) == .legacyBuilder)
        #expect(PluginLaunch.parse(["p", "describe"]) == .describe)
        #expect(PluginLaunch.parse(["p", "start", "builder", "--protobuf", "-packer-default-plugin-name-"])
            == .modernBuilder(component: "-packer-default-plugin-name-", protobuf: true))
        #expect(PluginLaunch.parse(["p", "start", "builder", "qemu-chroot"]) == .modernBuilder(component: "qemu-chroot", protobuf: false))
        #expect(PluginLaunch.parse(["p", "--protobuf", "start", "builder", "x"]) != .legacyBuilder)
        #expect(PluginLaunch.parse(["p", "start", "builder", "--protobuf", "qemu-chroot"]).specEncoding == .protobuf)
        #expect(PluginLaunch.parse(["p", "start", "builder", "qemu-chroot"]).specEncoding == .gob)
        #expect(PluginLaunch.legacyBuilder.specEncoding == .gob)
        #expect(PluginLaunch.parse(["p", "start", "provisioner", "x"]) != .legacyBuilder)
        #expect(PluginLaunch.legacyBuilder.handshakeLine(network: "unix", address: "/t/s") == "5|unix|/t/s\n")
        #expect(PluginLaunch.modernBuilder(component: "qemu-chroot", protobuf: true).handshakeLine(network: "unix", address: "/t/s") == "5|0|unix|/t/s\n")
    }
}
