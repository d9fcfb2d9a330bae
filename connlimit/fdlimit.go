package connlimit

// Reserve is how many descriptors a connection cap leaves free below the
// open-file limit by default: a plugin start or restart needs some (its pipes,
// its gRPC connection, its log), as do the store, audit and metrics files.
// At least MinReserve, else an eighth of the limit.
const MinReserve = 128

// Within returns the connection cap that leaves room for everything else the
// process opens: configured, lowered to fdLimit minus the reserve (never
// below 1). fdLimit 0 (unknown) keeps configured.
func Within(configured int, fdLimit uint64) (capped int, reserve int) {
	if fdLimit == 0 {
		return configured, 0
	}
	reserve = max(MinReserve, int(fdLimit/8))
	room := int(min(fdLimit, 1<<30)) - reserve
	return max(1, min(configured, room)), reserve
}
