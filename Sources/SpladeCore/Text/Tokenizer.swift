import Foundation

/// A BERT tokenizer loaded from a Hugging Face model directory: the text → token id mapping of
/// `BertJapaneseTokenizer` (NFKC, MeCab words, WordPiece) or of `BertTokenizer` (the BERT
/// normaliser, punctuation split, WordPiece), each reproducing transformers' ids exactly.
///
/// The tokenizer itself is immutable and shared; each thread encodes through its own
/// `TokenizerSession` (MeCab taggers are not thread-safe).
public final class Tokenizer: Sendable {
    public enum Family: Sendable {
        /// `BertJapaneseTokenizer` with MeCab words and WordPiece subwords; `normalize`: NFKC first (mecab_kwargs'
        /// normalize_text), `lowercase`: each MeCab word lower-cased (do_lower_case).
        case japanese(dictionary: MeCabDictionary, lowercase: Bool, normalize: Bool)
        /// `BertTokenizer`: the BERT normaliser and pre-tokeniser.
        case bert(BertNormalizer)
    }

    public let vocabulary: Vocabulary
    public let family: Family
    public let clsId: Int32
    public let sepId: Int32
    public let unknownId: Int32
    /// Things about the model directory a user should know (printed as warnings by the tools).
    public let warnings: [String]
    let specialTokens: SpecialTokenSplitter
    let wordPiece: WordPiece

    init(vocabulary: Vocabulary, family: Family, specialTokens: [(String, Int32)], cls: Int32, sep: Int32,
         unknown: Int32, maxInputCharsPerWord: Int, warnings: [String]) {
        self.vocabulary = vocabulary
        self.family = family
        self.clsId = cls
        self.sepId = sep
        self.unknownId = unknown
        self.warnings = warnings
        self.specialTokens = SpecialTokenSplitter(tokens: specialTokens)
        self.wordPiece = WordPiece(vocabulary: vocabulary, unknownId: unknown, maxInputCharsPerWord: maxInputCharsPerWord)
    }

    /// A per-thread encoder.
    public func makeSession() throws(SpladeError) -> TokenizerSession {
        try TokenizerSession(tokenizer: self)
    }

    /// The token strings of `ids`.
    public func tokens(of ids: [Int32]) -> [String] {
        ids.map { vocabulary.tokens[Int($0)] }
    }
}

/// Encodes texts on one thread.
public final class TokenizerSession {
    public let tokenizer: Tokenizer
    private let mecab: MeCabTagger?

    init(tokenizer: Tokenizer) throws(SpladeError) {
        self.tokenizer = tokenizer
        if case .japanese(let dictionary, _, _) = tokenizer.family {
            mecab = try MeCabTagger(dictionary: dictionary)
        } else {
            mecab = nil
        }
    }

    /// `[CLS] tokens… [SEP]`, truncated to `maxLength` ids in all (both special tokens kept), as
    /// `tokenizer(text, add_special_tokens=True, truncation=True, max_length=maxLength)` gives.
    public func encode(_ text: String, maxLength: Int = 512) throws(SpladeError) -> [Int32] {
        precondition(maxLength >= 2, "maxLength must leave room for [CLS] and [SEP]")
        var text = text
        var ids: [Int32] = []
        try text.withUTF8Bytes { bytes throws(SpladeError) in
            ids.reserveCapacity(bytes.count / 2 + 2)
            ids.append(tokenizer.clsId)
            for piece in tokenizer.specialTokens.split(bytes) {
                switch piece {
                case .special(let id):
                    ids.append(id)
                case .text(let range):
                    try appendIds(ofChunk: UnsafeBufferPointer(rebasing: bytes[range]), to: &ids)
                }
            }
        }
        if ids.count > maxLength - 1 { ids.removeSubrange((maxLength - 1)...) }
        ids.append(tokenizer.sepId)
        return ids
    }

    private func appendIds(ofChunk chunk: UnsafeBufferPointer<UInt8>, to ids: inout [Int32]) throws(SpladeError) {
        let wordPiece = tokenizer.wordPiece
        switch tokenizer.family {
        case .japanese(_, let lowercase, let normalize):
            // transformers lower-cases each MeCab surface (do_lower_case, with str.lower()), then splits it on Python
            // whitespace before WordPiece.
            func words(_ surface: UnsafeBufferPointer<UInt8>) {
                guard lowercase else {
                    forEachPythonWhitespaceSeparatedWord(surface) { wordPiece.appendIds(of: $0, to: &ids) }
                    return
                }
                var lowered = UnicodeClasses.pythonLowercased(String(decoding: surface, as: UTF8.self))
                lowered.withUTF8 { forEachPythonWhitespaceSeparatedWord($0) { wordPiece.appendIds(of: $0, to: &ids) } }
            }
            if normalize, let normalized = JapaneseNormalization.nfkc(chunk) {
                try normalized.withUnsafeBufferPointer { bytes throws(SpladeError) in try mecab!.forEachWord(bytes, words) }
            } else {
                try mecab!.forEachWord(chunk, words)
            }
        case .bert(let normalizer):
            var normalized = normalizer.normalize(String(decoding: chunk, as: UTF8.self))
            normalized.withUTF8 { bytes in
                BertPreTokenizer.forEachWord(bytes) { wordPiece.appendIds(of: $0, to: &ids) }
            }
        }
    }
}

/// Calls `body` with each run of `text` between Python `str.split()` whitespace.
func forEachPythonWhitespaceSeparatedWord(_ text: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
    var wordStart = 0
    var i = 0
    while i < text.count {
        let (value, length) = decodeScalar(text, at: i)
        if UnicodeClasses.isPythonWhitespace(value) {
            if wordStart < i { body(UnsafeBufferPointer(rebasing: text[wordStart..<i])) }
            wordStart = i + length
        }
        i += length
    }
    if wordStart < text.count { body(UnsafeBufferPointer(rebasing: text[wordStart..<text.count])) }
}
