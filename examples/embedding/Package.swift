// swift-tools-version:6.0
import PackageDescription

// An embedder of qemu-chroot's library: depends on the NBDCore product by version, as any other package
// would. scripts/embed-check builds a copy of this package against a tagged clone of the repository.
let package = Package(
    name: "embedding",
    dependencies: [
        .package(url: "https://github.com/qemu-chroot/qemu-chroot", from: "0.1.0"),
    ],
    targets: [
        .executableTarget(
            name: "attach-and-run",
            dependencies: [.product(name: "NBDCore", package: "qemu-chroot")]
        ),
    ]
)
