import NBDCore

/// Users of the image as its /etc/passwd and /etc/shadow say, edited in place (the files keep their mode
/// and owner): what `--password`, `--root-password` and `--ssh-inject` change.
extension ImageShell {
    struct Account {
        let user: String
        let uid: String
        let gid: String
        let home: String
    }

    func account(_ user: String, for operation: String) throws -> Account {
        guard let passwd = try read("/etc/passwd") else { throw BuildError("\(operation): the image has no /etc/passwd") }
        for line in passwd.split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            if fields.count >= 7 && fields[0] == user {
                return Account(user: user, uid: fields[2], gid: fields[3], home: fields[5])
            }
        }
        throw BuildError("\(operation): the image's /etc/passwd has no user \(user)")
    }

    /// Sets `user`'s password field in /etc/shadow; the hash goes through a file upload, never a command line.
    func setPassword(_ user: String, _ password: ShadowPassword, for operation: String) throws {
        guard let shadow = try read("/etc/shadow") else { throw BuildError("\(operation): the image has no /etc/shadow") }
        var found = false
        var lines = shadow.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for index in lines.indices {
            var fields = lines[index].split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 2, fields[0] == user else { continue }
            fields[1] = password.field
            lines[index] = fields.joined(separator: ":")
            found = true
        }
        guard found else { throw BuildError("\(operation): the image's /etc/shadow has no line for \(user)") }
        try write("/etc/shadow", lines.joined(separator: "\n"))
    }

    /// Appends `key` to the user's ~/.ssh/authorized_keys (once): ~/.ssh 0700 and the file 0600, both owned
    /// by the user, as sshd's StrictModes wants.
    func injectKey(_ key: String, user: String, for operation: String) throws {
        let account = try account(user, for: operation)
        guard account.home.hasPrefix("/") else { throw BuildError("\(operation): \(user)'s home \"\(account.home)\" is not an absolute path") }
        let directory = account.home == "/" ? "/.ssh" : "\(account.home)/.ssh"
        let file = "\(directory)/authorized_keys"
        try run("mkdir -p -- \(Self.quote(directory))", for: operation)
        var keys = try read(file) ?? ""
        if !keys.split(separator: "\n").contains(where: { String($0).trimmingWhitespace() == key }) {
            if !keys.isEmpty && !keys.hasSuffix("\n") { keys += "\n" }
            keys += key + "\n"
            try write(file, keys, mode: 0o600)
        }
        let owner = "\(account.uid):\(account.gid)"
        try run("""
            chmod 0700 -- \(Self.quote(directory))
            chmod 0600 -- \(Self.quote(file))
            chown \(owner) -- \(Self.quote(directory)) \(Self.quote(file))
            """, for: operation)
    }
}
