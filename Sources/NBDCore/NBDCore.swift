// The embeddable library: one import for everything below the builder. Each layer is its own module
// (docs/architecture.md); an embedder of the NBDCore product may also import a single layer's module.
@_exported import HostSystem
@_exported import ImageLayout
@_exported import NBDProtocol
@_exported import QemuTools
@_exported import ImageMount
@_exported import ImageAttach
