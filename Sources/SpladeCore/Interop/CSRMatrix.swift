/// Reads a sparse matrix in the format of the NeurIPS'23 big-ann-benchmarks sparse track
/// (`base_small.csr`, `queries.dev.csr`, …), one row per vector, mapped rather than loaded:
///
///     i64 nrow · i64 ncol · i64 nnz · i64 indptr[nrow + 1] · i32 indices[nnz] · f32 data[nnz]
///
/// little-endian, row r holding the columns `indices[indptr[r]..<indptr[r+1]]`. Row r becomes the
/// vector with id r (a JSON number, 0 … nrow-1) and its columns are token ids (ncol is the
/// vocabulary size). The files are published gzip-compressed: unpack them first.
public final class CSRMatrixReader {
    public let name: String
    public let rows: Int
    public let columns: Int
    private let file: MappedFile
    private let indptrOffset = 24
    private let indicesOffset: Int
    private let dataOffset: Int
    private var row = 0

    public init(path: String) throws(SpladeError) {
        name = path
        file = try MappedFile(path: path)
        let bytes = file.bytes
        func corrupt(_ what: String) -> SpladeError {
            SpladeError(.badInput, "not a big-ann-benchmarks .csr matrix: \(what)", location: path)
        }
        guard bytes.count >= 24 else { throw corrupt("shorter than its 24-byte header") }
        func i64(_ at: Int) -> Int64 { Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: Int64.self)) }
        let (nrow, ncol, nnz) = (i64(0), i64(8), i64(16))
        // Bounded so the size arithmetic cannot overflow.
        guard (0..<(1 << 40)).contains(nrow), (0...Int64(Int32.max)).contains(ncol), (0..<(1 << 40)).contains(nnz) else {
            throw corrupt("impossible sizes (\(nrow) rows, \(ncol) columns, \(nnz) entries)")
        }
        rows = Int(nrow)
        columns = Int(ncol)
        indicesOffset = indptrOffset + 8 * (rows + 1)
        dataOffset = indicesOffset + 4 * Int(nnz)
        guard bytes.count == dataOffset + 4 * Int(nnz) else {
            throw corrupt("\(bytes.count) bytes where \(rows) rows and \(nnz) entries take \(dataOffset + 4 * Int(nnz)) (cut short?)")
        }
        guard i64(indptrOffset) == 0, i64(indicesOffset - 8) == nnz else { throw corrupt("indptr does not run from 0 to nnz") }
        for r in 0..<rows where i64(indptrOffset + 8 * (r + 1)) < i64(indptrOffset + 8 * r) {
            throw corrupt("indptr decreases at row \(r)")
        }
    }

    /// The next row as a vector (columns ascending, zeros dropped), or nil after the last one.
    public func next() throws(SpladeError) -> VectorRecord? {
        guard row < rows else { return nil }
        defer { row += 1 }
        let bytes = file.bytes
        let location = "\(name): row \(row)"
        let start = Int(Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: indptrOffset + 8 * row, as: Int64.self)))
        let end = Int(Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: indptrOffset + 8 * (row + 1), as: Int64.self)))
        var entries: [(index: Int32, value: Float)] = []
        entries.reserveCapacity(end - start)
        for p in start..<end {
            let index = Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: indicesOffset + 4 * p, as: Int32.self))
            let value = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: dataOffset + 4 * p, as: UInt32.self)))
            guard index >= 0, Int(index) < columns else {
                throw SpladeError(.badInput, "column \(index) is outside the matrix's \(columns) columns", location: location)
            }
            guard value.isFinite, value >= 0 else {
                throw SpladeError(.badInput, "weight \(value) of column \(index) is negative or not finite", location: location)
            }
            if value > 0 { entries.append((index, value)) }
        }
        entries.sort { $0.index < $1.index }
        for i in entries.indices.dropFirst() where entries[i].index == entries[i - 1].index {
            throw SpladeError(.badInput, "column \(entries[i].index) appears twice", location: location)
        }
        return VectorRecord(id: .number(String(row)), vector: SparseVector(indices: entries.map(\.index), values: entries.map(\.value)))
    }
}
