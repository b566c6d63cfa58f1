@testable import packer_builder_qemu_chroot
import Builder
@testable import PackerRPC
import Testing

@Suite struct PackerConfigsTests {
    @Test func jsonTemplateMapsMergeInOrder() throws {
        let configs = try PackerConfigs([
            .object(["source_image": .string("a.qcow2"), "mount_partition": .float(2), "copy_files": .strings(["/etc/hosts"])]),
            .object(["packer_build_name": .string("b"), "packer_force": .bool(true),
                     "packer_user_variables": .object(["size": .string("4G"), "n": .float(5)])]),
        ])
        #expect(configs["source_image"] == .string("a.qcow2"))
        #expect(configs["mount_partition"] == .number(2))
        #expect(configs["copy_files"] == .array([.string("/etc/hosts")]))
        #expect(configs.string("packer_build_name") == "b")
        #expect(configs.flag("packer_force"))
        #expect(configs.userVariables == ["size": "4G", "n": "5"])
    }

    @Test func hcl2CtyJSONDropsNulls() throws {
        let cty = #"{"value":{"source_image":"img","chroot_mounts":[["proc","proc","/proc"]],"format":null},"type":["object",{}]}"#
        let configs = try PackerConfigs([.object(["packer_debug": .string("false")]), .binary(Array(cty.utf8))])
        #expect(configs["source_image"] == .string("img"))
        #expect(configs["format"] == nil)
        #expect(configs["chroot_mounts"] == .array([.array([.string("proc"), .string("proc"), .string("/proc")])]))
        #expect(!configs.flag("packer_debug"))
    }

    @Test func hostileConfigsAreErrors() {
        #expect(throws: (any Error).self) { try PackerConfigs([.string("x")]) }
        #expect(throws: (any Error).self) { try PackerConfigs([.binary(Array("not json".utf8))]) }
        #expect(throws: (any Error).self) { try PackerConfigs([.binary(Array("[1]".utf8))]) }
        var deep: MsgPackValue = .nil
        for _ in 0..<100 { deep = .array([deep]) }
        #expect(throws: (any Error).self) { try PackerConfigs([.object(["x": deep])]) }
    }
}
