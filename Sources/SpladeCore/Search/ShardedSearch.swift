/// Search over several indexes (shards) and all their segments at once: each shard's top-k (its segments searched
/// as one), merged by score. Every shard's search is exact, so the merge is the exact top-k of the union.
public final class ShardedSearch: @unchecked Sendable {
    public let shards: [IndexSnapshot]

    /// A document of a shard's segment, with its float score.
    public struct Hit: Sendable {
        public var shard: Int
        public var segment: Int
        public var document: Int
        public var score: Double
    }

    /// Segments searched together, with their places in their shard.
    private struct SegmentGroup {
        var places: [Int]
        var segments: [Segment]
        var deletions: [Deletions?]
    }

    /// Per shard, its segments in one group: an index's segments share its scale, so their integer scores compare.
    /// (Segments of different scales, which no update writes, would each be a group of their own.)
    private let groups: [[SegmentGroup]]

    public init(shards: [IndexSnapshot]) {
        self.shards = shards
        groups = shards.map { shard in
            let places = Array(shard.segments.indices)
            return (Set(shard.segments.map(\.header.scale)).count <= 1 ? [places] : places.map { [$0] }).map { places in
                SegmentGroup(places: places, segments: places.map { shard.segments[$0] }, deletions: places.map { shard.deletions[$0] })
            }
        }
    }

    /// The best `k` documents, best first; equal scores keep index order (shard, segment, document).
    /// `alpha` is 1 for the exact search, below 1 for the approximate one (see `BlockMaxSearch`).
    /// An id in several shards (shards that overlap) is one document, at its best score: still exact, since
    /// an occurrence outside its shard's top k has k better documents of that shard before it.
    public func search(_ query: QuantizedQuery, k: Int, alpha: Double, scratch: BlockMaxSearch.Scratch) -> [Hit] {
        var hits: [Hit] = []
        var searches = 0
        for (s, shardGroups) in groups.enumerated() {
            for group in shardGroups {
                searches += 1
                let found = BlockMaxSearch.search(group.segments, deletions: group.deletions, query: query, k: k, alpha: alpha,
                                                  scratch: scratch)
                hits += found.map { hit in
                    Hit(shard: s, segment: group.places[hit.segment], document: hit.document,
                        score: query.score(hit.score, scale: group.segments[hit.segment].scale))
                }
            }
        }
        if searches == 1 { return hits }  // one search's hits come ranked
        hits.sort { a, b in
            if a.score != b.score { return a.score > b.score }
            return (a.shard, a.segment, a.document) < (b.shard, b.segment, b.document)
        }
        // Within one index an id is live once (an addition replaces it); across shards it may not be.
        guard shards.count > 1 else { return Array(hits.prefix(k)) }
        var seen = Set<ExactID>(), unique: [Hit] = []
        for hit in hits where unique.count < k && seen.insert(ExactID(id(of: hit))).inserted { unique.append(hit) }
        return unique
    }

    public func id(of hit: Hit) -> String { shards[hit.shard].segments[hit.segment].idText(hit.document) }
    public func idValue(of hit: Hit) -> JSONValue { shards[hit.shard].segments[hit.segment].idValue(hit.document) }
}

/// Hybrid retrieval: one ranked list per index (each searched to depth k), fused into one.
public enum Fusion: Sendable {
    /// Reciprocal rank fusion: Σ_i w_i / (c + rank_i(d)), ranks from 1 (Cormack et al. 2009; c = 60).
    case reciprocalRank(c: Double)
    /// Σ_i w_i · (s_i(d) − min_i) / (max_i − min_i): scores min-max normalised per query and list
    /// (a document missing from a list adds 0).
    case weightedSum

    public struct Item: Sendable {
        public var id: JSONValue
        public var key: String
        public var score: Double
        public init(id: JSONValue, key: String, score: Double) {
            self.id = id
            self.key = key
            self.score = score
        }
    }

    /// Fuses `lists` (each best first) with `weights`, ids compared byte for byte; ties broken by the id bytes, ascending.
    public func fuse(_ lists: [[Item]], weights: [Double], k: Int) -> [Item] {
        var fused: [ExactID: Item] = [:]
        for (list, weight) in zip(lists, weights) {
            let high = list.first?.score ?? 0, low = list.last?.score ?? 0
            for (rank, item) in list.enumerated() {
                let contribution: Double
                switch self {
                case .reciprocalRank(let c): contribution = weight / (c + Double(rank + 1))
                case .weightedSum: contribution = weight * (high > low ? (item.score - low) / (high - low) : 1)
                }
                fused[ExactID(item.key), default: Item(id: item.id, key: item.key, score: 0)].score += contribution
            }
        }
        return Array(fused.values.sorted {
            $0.score != $1.score ? $0.score > $1.score : $0.key.utf8.lexicographicallyPrecedes($1.key.utf8)
        }.prefix(k))
    }
}
