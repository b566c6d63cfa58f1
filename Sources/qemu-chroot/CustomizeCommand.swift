import ArgumentParser
import Builder
import NBDCore

/// `qemu-chroot customize -a IMAGE [-o OUTPUT] OPERATION...`: virt-customize's operations, in the order
/// given, in one attach and mount, without an appliance VM.
struct CustomizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "customize",
        abstract: "Change an image with virt-customize's operations, in one attach, without booting it.",
        discussion: """
            Operations, run in the order given in the image's chroot (docs/customize.md):
              --run-command CMD, --run SCRIPT
              --upload FILE:DEST, --copy-in LOCALPATH:REMOTEDIR
              --write FILE:CONTENT, --append-line FILE:LINE
              --mkdir DIR, --delete PATH, --move SRC:DEST, --link TARGET:LINK[:LINK...]
              --chmod MODE:FILE, --touch FILE, --truncate FILE
              --install PKG,..., --uninstall PKG,..., --update
              --hostname NAME, --timezone TZ
              --root-password SELECTOR, --password USER:SELECTOR
                (SELECTOR: password:PW, file:FILE, random or disabled)
              --ssh-inject USER[:file:KEY.pub|:string:KEY]
              --firstboot-command CMD, --firstboot SCRIPT
              --selinux-relabel, --commands-from-file FILE
            Without -o the image is changed in place; with -o the input is never written.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: CustomizeTarget

    @Option(name: .customLong("password-crypto"), help: "Password hashes: sha512 (default, $6$) or yescrypt ($y$).")
    var passwordCrypto = "sha512"

    @Argument(parsing: .allUnrecognized, help: .hidden)
    var operations: [String] = []

    func run() throws {
        global.apply()
        let request: Customize.Request
        var arguments: CustomizeArguments
        do {
            guard let method = PasswordHash.Method(rawValue: passwordCrypto) else {
                throw CustomizeArgumentError("--password-crypto", "sha512 or yescrypt", got: passwordCrypto)
            }
            arguments = CustomizeArguments(passwordMethod: method)
            try arguments.parse(operations)
            guard !arguments.operations.isEmpty else { throw CustomizeArgumentError("customize", "at least one operation (--help lists them)") }
            request = try target.request(arguments.operations, name: "customize")
        } catch {
            throw CustomizeRun.refuse("customize", error)
        }
        try CustomizeRun.perform(request, target: target, secrets: arguments.secrets, randomPasswords: arguments.randomPasswords)
    }
}

/// `qemu-chroot sysprep -a IMAGE [-o OUTPUT] [--operations LIST]`: virt-sysprep's default operations,
/// which make an image safe to clone.
struct SysprepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sysprep",
        abstract: "Remove what makes an image one machine (machine-id, SSH host keys, logs...), so it can be cloned.",
        discussion: "--list-operations shows each operation; all but ssh-userdir run by default (docs/customize.md).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: CustomizeTarget

    @Option(name: .long, parsing: .unconditional,
            help: "Operations to run: names, or -NAME to drop one from the defaults (e.g. -logfiles).")
    var operations: String?

    @Flag(name: .customLong("list-operations"), help: "List the operations and exit.")
    var listOperations = false

    func run() throws {
        global.apply()
        if listOperations {
            for operation in SysprepOperation.allCases {
                let mark = SysprepOperation.defaults.contains(operation) ? "*" : " "
                print("\(operation.rawValue) \(mark) \(operation.summary)")
            }
            return
        }
        let request: Customize.Request
        do {
            let chosen = try operations.map(SysprepOperation.select) ?? SysprepOperation.defaults
            request = try target.request(chosen.map(CustomizeOperation.sysprep), name: "sysprep")
        } catch {
            throw CustomizeRun.refuse("sysprep", error)
        }
        try CustomizeRun.perform(request, target: target, secrets: [], randomPasswords: [])
    }
}
