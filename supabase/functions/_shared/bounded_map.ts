// In-process memory that cannot grow without bound (caches of parses, per-bucket
// state): when the map is full, the oldest entry goes. A Map iterates in
// insertion order, so the oldest is the first key.

/** Sets key to value in map, first dropping the oldest entry if map holds max. */
export function remember<K, V>(
  map: Map<K, V>,
  key: K,
  value: V,
  max: number,
): V {
  if (map.size >= max && !map.has(key)) {
    map.delete(map.keys().next().value!);
  }
  map.set(key, value);
  return value;
}
