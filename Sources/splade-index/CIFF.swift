import Foundation
import SpladeCLI
import SpladeCore

extension SpladeIndex {
    /// Whether -i names a CIFF file: --input-format ciff, or a .ciff / .ciff.zst name.
    var readsCIFF: Bool {
        inputFormat == .ciff || (inputFormat == nil && (input.hasSuffix(".ciff") || input.hasSuffix(".ciff.zst")))
    }

    /// --export ciff: the live documents of --index as CIFF on -o (standard output by default), tf = the 8-bit
    /// impact, terms as the index's tokens (--keys tokens) or decimal token ids (--keys ids).
    func exportCIFF() throws(SpladeError) {
        guard let index else {
            throw SpladeError(.usage, "--export ciff writes an index: name it with --index DIR")
        }
        try OutputSink.refuseBinaryOnATerminal(output, what: "CIFF", hint: "redirect it: -o idx.ciff, or > idx.ciff")
        let snapshot = try IndexSnapshot(directory: index)
        let m = snapshot.manifest
        let termNames: [String]
        switch keys {
        case .ids:
            termNames = (0..<m.vocabularySize).map { String($0) }
        case .tokens:
            guard let vocabulary = try snapshot.vocabulary() else {
                throw SpladeError(.usage, "the index stores no vocabulary, so its terms have no token strings", location: index,
                                  hint: "export token ids with --keys ids")
            }
            termNames = vocabulary.tokens
        }
        let description = CIFF.exportDescription(of: snapshot, terms: keys == .ids ? "token ids" : "tokens")
        let sink = try OutputSink(path: output, inputDirectories: [index] + modelDirectories)
        let summary = try CIFF.export(snapshot, termNames: termNames, description: description) { bytes throws(SpladeError) in
            try sink.write(bytes)
        }
        try sink.commit()
        Diagnostics.note("\(snapshot.path): exported \(summary.documents) documents, \(summary.postingsLists) postings lists, "
                         + "\(summary.postings) postings as CIFF")
    }

    /// -i FILE.ciff -o DIR: an index of the CIFF's documents, tf as impacts. Terms are token
    /// strings of --model's vocabulary, or decimal token ids with --keys ids.
    func buildFromCIFF(directory: String, lock: IndexLock) throws(SpladeError) -> IndexUpdateSummary {
        guard tokenizerOptions.hasModel else {
            throw SpladeError(.usage, "a CIFF file carries no vocabulary fingerprint: pass --model (or $SPLADE_MODEL)",
                              hint: "the model whose vocabulary the CIFF's terms come from")
        }
        let vocabulary = try tokenizerOptions.loadTokenizer().vocabulary
        let size = vocabulary.count
        var imported = try CIFFImport.read(path: input) { term in
            switch keys {
            case .tokens: return vocabulary.id(of: term)
            case .ids:
                guard !term.isEmpty, term.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
                      let id = Int32(term), Int(id) < size else { return nil }
                return id
            }
        }
        // Our own exports record the index's kind (a BM25 index takes tokenized queries), scale and BM25 parameters.
        let exported = CIFF.exportedIndex(in: imported.header.description)
        var settings = IndexSettings(kind: exported?.kind ?? .splade, vocabularySize: size,
                                     fingerprint: VectorStreamHeader.fingerprint(of: vocabulary.tokens),
                                     tokens: vocabulary.tokens, blockSize: blockSize, reorder: reorder, bm25: exported?.bm25)
        settings.minimumDocuments = minDocuments ?? 1
        // tfs up to 255 are kept as the impacts, so rankings stay exactly the exporter's; the scale is 1, or the one
        // our own export recorded, so that scores stay the exported index's too.
        if imported.largestFrequency <= 255 {
            let scale = exported?.scale ?? 1
            imported.dequantise(by: scale)
            settings.scale = ImpactScale(scale: scale)
        } else {
            Diagnostics.warning("tfs up to \(imported.largestFrequency) are rescaled to 8-bit impacts (× 255/\(imported.largestFrequency)); "
                                + "scores are approximate")
        }
        TRECIdSurvey.warn(about: imported.documents)
        return try IndexUpdate.build(imported.documents, settings: settings, directory: directory, lock: lock, progress: buildProgress())
    }
}
