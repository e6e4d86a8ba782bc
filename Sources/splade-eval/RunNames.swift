import SpladeCore

/// How runs are named in reports and picked by --baseline.
enum RunNames {
    /// The file name without directories and the .zst/.trec/.jsonl/.txt extensions
    /// (`runs/bm25.trec.zst` → `bm25`); the paths as given when two names would collide.
    static func display(_ paths: [String]) -> [String] {
        let short = paths.map { path -> String in
            guard path != "-" else { return InputFile.displayName(path) }
            var name = path.split(separator: "/").last.map(String.init) ?? path
            for ext in [".zst", ".trec", ".jsonl", ".txt"] where name.hasSuffix(ext) && name.count > ext.count {
                name.removeLast(ext.count)
            }
            return name
        }
        return Set(short).count == short.count ? short : paths.map(InputFile.displayName)
    }

    /// The baseline's index: the first run by default, else the run with that name or path, or
    /// at that 1-based position.
    static func index(of baseline: String?, paths: [String], names: [String]) throws(SpladeError) -> Int {
        guard let baseline else { return 0 }
        if let i = names.firstIndex(of: baseline) ?? paths.firstIndex(of: baseline) { return i }
        if let position = Int(baseline), position >= 1, position <= paths.count { return position - 1 }
        throw SpladeError(.usage, "--baseline \(baseline) is none of the runs",
                          hint: "give a run's name (\(names.joined(separator: ", "))), path or position")
    }
}
