import PackerRPC
import Builder

/// Sends the Builder library's output lines to Packer's Ui. BuildOutput formats lines for a terminal
/// ("==> name: text", "    name: text", "==> name: Error: text"); Packer adds its own "==> name: "
/// prefix, so the line's kind is recovered from that format and only the text is sent.
enum PluginUiOutput {
    static func make(_ ui: PluginUi, buildName: String) -> BuildOutput {
        BuildOutput(machineReadable: false) { line in
            let text = line.hasSuffix("\n") ? String(line.dropLast()) : line
            let say = "==> \(buildName): ", message = "    \(buildName): "
            if text.hasPrefix(say + "Error: ") {
                ui.error(String(text.dropFirst(say.count + 7)))
            } else if text.hasPrefix(say) {
                ui.say(String(text.dropFirst(say.count)))
            } else if text.hasPrefix(message) {
                ui.message(String(text.dropFirst(message.count)))
            } else {
                ui.message(text)
            }
        }
    }
}
