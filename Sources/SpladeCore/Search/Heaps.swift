/// The best k (score, document) pairs seen so far, as a min-heap of packed keys
/// `score << 32 | (UInt32.max − document)`: a larger key is a better hit (higher score, then
/// lower document number), and the root is the k-th best, the threshold to beat.
struct TopKHeap {
    private(set) var keys: [UInt64] = []
    private(set) var k: Int

    init(k: Int) { self.k = k }

    mutating func reset(k: Int) {
        self.k = k
        keys.removeAll(keepingCapacity: true)
    }

    var isFull: Bool { keys.count >= k }
    /// The k-th best score (meaningful when full).
    var threshold: UInt32 { keys.isEmpty ? 0 : Self.score(of: keys[0]) }

    static func key(score: UInt32, document: Int) -> UInt64 { UInt64(score) << 32 | UInt64(UInt32.max - UInt32(document)) }
    static func score(of key: UInt64) -> UInt32 { UInt32(key >> 32) }
    static func document(of key: UInt64) -> Int { Int(UInt32.max - UInt32(truncatingIfNeeded: key)) }

    @inline(__always)
    mutating func offer(score: UInt32, document: Int) {
        let key = Self.key(score: score, document: document)
        if keys.count < k {
            keys.append(key)
            var child = keys.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard keys[parent] > keys[child] else { break }
                keys.swapAt(parent, child)
                child = parent
            }
        } else if key > keys[0] {
            keys[0] = key
            siftDown(0)
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < keys.count && keys[left] < keys[smallest] { smallest = left }
            if right < keys.count && keys[right] < keys[smallest] { smallest = right }
            guard smallest != parent else { return }
            keys.swapAt(parent, smallest)
            parent = smallest
        }
    }

    func sortedDescending() -> [UInt64] { keys.sorted(by: >) }
}

/// A binary max-heap of UInt64 keys, built in O(n) and popped lazily: only the blocks a search
/// visits pay for being ordered.
struct MaxHeap {
    private(set) var storage: [UInt64]

    init(heapifying keys: [UInt64]) {
        storage = keys
        var i = storage.count / 2
        while i > 0 {
            i -= 1
            siftDown(i)
        }
    }

    mutating func pop() -> UInt64? {
        guard let top = storage.first else { return nil }
        let last = storage.removeLast()
        if !storage.isEmpty {
            storage[0] = last
            siftDown(0)
        }
        return top
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        let count = storage.count
        while true {
            let left = 2 * parent + 1, right = left + 1
            var largest = parent
            if left < count && storage[left] > storage[largest] { largest = left }
            if right < count && storage[right] > storage[largest] { largest = right }
            guard largest != parent else { return }
            storage.swapAt(parent, largest)
            parent = largest
        }
    }
}
