// swift-tools-version:6.0
import PackageDescription

// Layers, dependencies pointing down only:
//   CNBD (C shims) → NBDCore (protocol, disk layout, attach, mount, chroot)
//   → Builder (templates, steps, provisioners) → PackerRPC (Packer's plugin protocol)
//   → executables qemu-chroot and packer-plugin-qemu-chroot.
let package = Package(
    name: "qemu-chroot",
    products: [
        .library(name: "NBDCore", targets: ["NBDCore"]),
        .library(name: "Builder", targets: ["Builder"]),
        .library(name: "PackerRPC", targets: ["PackerRPC"]),
        .executable(name: "qemu-chroot", targets: ["qemu-chroot"]),
        .executable(name: "packer-builder-qemu-chroot", targets: ["packer-builder-qemu-chroot"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(
            name: "CNBD",
            cSettings: [.unsafeFlags(["-I/usr/include/libnl3"])],
            linkerSettings: [.linkedLibrary("nl-genl-3"), .linkedLibrary("nl-3")]
        ),
        .target(name: "NBDCore", dependencies: ["CNBD"]),
        .target(name: "Builder", dependencies: ["NBDCore"]),
        .target(name: "PackerRPC", dependencies: ["Builder", "NBDCore"]),
        .executableTarget(
            name: "qemu-chroot",
            dependencies: [
                "NBDCore", "Builder",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "packer-builder-qemu-chroot", dependencies: ["PackerRPC", "Builder", "NBDCore"]),
        // Reads a whole export with our NBD client, for make bench (side by side with nbdcopy).
        .executableTarget(name: "nbd-bench", dependencies: ["NBDCore"]),
        // Shared by the test targets: skip traits that probe the host, image fixtures.
        .target(name: "TestSupport", dependencies: ["NBDCore"]),
        // A run for the attach tests to SIGKILL, so they can check what `cleanup` releases.
        .executableTarget(name: "attach-hold", dependencies: ["NBDCore"], path: "Tests/AttachHold"),
        .testTarget(name: "NBDCoreTests", dependencies: ["NBDCore", "CNBD", "TestSupport"]),
        .testTarget(name: "BuilderTests", dependencies: ["Builder", "NBDCore", "TestSupport"]),
        .testTarget(name: "PackerRPCTests", dependencies: ["PackerRPC", "Builder", "TestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
