import Foundation

/// The shared reference fixtures (../shared/fixtures, or $SPLADE_FIXTURES). Tests that need them
/// are skipped, visibly, when they are absent; CI always has them.
enum Fixtures {
    static let directory: String = {
        if let path = ProcessInfo.processInfo.environment["SPLADE_FIXTURES"] { return path }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.deletingLastPathComponent().appendingPathComponent("shared/fixtures").path
    }()

    static var available: Bool { FileManager.default.fileExists(atPath: directory + "/README.md") }

    static func path(_ relative: String) -> String { directory + "/" + relative }

    /// ../shared/data, beside the fixtures.
    static func data(_ relative: String) -> String {
        URL(fileURLWithPath: directory).deletingLastPathComponent().appendingPathComponent("data/" + relative).path
    }
}
