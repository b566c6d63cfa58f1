import HostSystem
/// The gob stream a builder writes on Communicator.Start's response stream: the type definition of
/// `CommandFinished{ExitStatus int}`, then one value. Packer waits for it after stdout and stderr reach EOF.
public enum CommandFinished {
    /// The status Packer's SDK uses when the connection to the machine is lost.
    public static let disconnectedStatus: Int64 = 2_300_218

    public static func gob(exitStatus: Int64) -> [UInt8] {
        let typeID: Int64 = 65
        let definition = GobWriter.structType(id: typeID, name: "CommandFinished",
                                              fields: [("ExitStatus", GobWriter.TypeID.int)])
        let value = GobWriter.message { w in
            w.int(typeID)
            if exitStatus != 0 { w.uint(1); w.int(exitStatus) } // gob omits zero fields
            w.uint(0)
        }
        return definition + value
    }
}
