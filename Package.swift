// swift-tools-version:6.0
import PackageDescription

// Layers, each depending only on the ones above it in this list (docs/architecture.md):
//   CLibNL, CNBD    C: libnl-genl-3 through pkg-config; thin shims for what Swift cannot call
//   HostSystem      syscalls, owned fds, child processes, threads, teardown, logging seam
//   ImageLayout     pure parsers over a block reader: GPT, MBR, filesystems, image formats, the root rule
//   NBDProtocol     the NBD client (handshake, transmission)
//   QemuTools       the qemu programs we run: qemu-nbd, qemu-img
//   ImageMount      mount namespace, mounts, the chroot command runner, symlink-safe transfers
//   ImageAttach     attach backends (kernel nbd, FUSE + loop, loop), the run ledger, MountedImage
//   NBDCore         the embeddable library: re-exports all of the above
//   Builder         templates, builder options, build steps, provisioners
//   PackerRPC       Packer's plugin protocol (yamux, mux broker, net/rpc, msgpack, gob); HostSystem only
//   executables     qemu-chroot (CLI), packer-builder-qemu-chroot (the plugin and its adapters)
let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "qemu-chroot",
    products: [
        .library(name: "NBDCore", targets: ["NBDCore"]),
        .library(name: "Builder", targets: ["Builder"]),
        .library(name: "PackerRPC", targets: ["PackerRPC"]),
        .executable(name: "qemu-chroot", targets: ["qemu-chroot"]),
        // The Packer plugin binary users install (Packer 1.7+ loads only this multi-component name; for 1.6.x it
        // is also installed as packer-builder-qemu-chroot, see docs/packer-plugin.md).
        .executable(name: "packer-plugin-qemu-chroot", targets: ["packer-builder-qemu-chroot"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.0"..<"5.0.0"),
        // QemuChrootLogHandler implements LogHandler.log(event:), which 1.16.2 has (the only release checked).
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibNL",
            pkgConfig: "libnl-genl-3.0",
            providers: [.apt(["libnl-3-dev", "libnl-genl-3-dev"]), .yum(["libnl3-devel"])]
        ),
        // libcrypt (libxcrypt): password hashes for `customize --password`.
        .target(name: "CNBD", dependencies: ["CLibNL"], linkerSettings: [.linkedLibrary("crypt")]),
        .target(
            name: "HostSystem",
            dependencies: ["CNBD", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(name: "ImageLayout", dependencies: ["HostSystem"], swiftSettings: strict),
        .target(name: "NBDProtocol", dependencies: ["HostSystem", "ImageLayout"], swiftSettings: strict),
        .target(name: "QemuTools", dependencies: ["HostSystem", "ImageLayout"], swiftSettings: strict),
        .target(name: "ImageMount", dependencies: ["CNBD", "HostSystem", "ImageLayout"], swiftSettings: strict),
        .target(
            name: "ImageAttach",
            dependencies: ["CNBD", "HostSystem", "ImageLayout", "NBDProtocol", "QemuTools", "ImageMount"],
            swiftSettings: strict
        ),
        .target(
            name: "NBDCore",
            dependencies: ["HostSystem", "ImageLayout", "NBDProtocol", "QemuTools", "ImageMount", "ImageAttach"],
            swiftSettings: strict
        ),
        .target(
            name: "Builder",
            dependencies: ["NBDCore", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        .target(name: "PackerRPC", dependencies: ["HostSystem"], swiftSettings: strict),
        .executableTarget(
            name: "qemu-chroot",
            dependencies: ["NBDCore", "Builder", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "packer-builder-qemu-chroot",
            dependencies: ["PackerRPC", "Builder", "NBDCore"],
            swiftSettings: strict
        ),
        // Reads a whole export with our NBD client, for make bench (side by side with nbdcopy).
        .executableTarget(name: "nbd-bench", dependencies: ["NBDCore"], swiftSettings: strict),
        // Shared by the test targets: skip traits that probe the host, image fixtures.
        .target(name: "TestSupport", dependencies: ["NBDCore"], swiftSettings: strict),
        // A run for the attach tests to SIGKILL, so they can check what `cleanup` releases.
        .executableTarget(name: "attach-hold", dependencies: ["NBDCore"], path: "Tests/AttachHold", swiftSettings: strict),
        .testTarget(name: "NBDCoreTests", dependencies: ["NBDCore", "CNBD", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "BuilderTests", dependencies: ["Builder", "NBDCore", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "PackerRPCTests",
            dependencies: ["PackerRPC", "Builder", "TestSupport", "packer-builder-qemu-chroot"],
            swiftSettings: strict
        ),
    ]
)
