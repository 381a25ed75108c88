/**
 * Congestion control for what a side sends. CUBIC backs off at every loss, which shares a link
 * fairly and is the default. BBR (v1; the quiche in @matrixai/quic has no v2) sends at the
 * bandwidth it measures and does not take random loss for congestion, so it keeps its rate on
 * lossy links (Wi-Fi, long paths), but it takes more than its share from other traffic.
 */
export const CONGESTION_CONTROLS = ['cubic', 'bbr'] as const;
export type CongestionControl = (typeof CONGESTION_CONTROLS)[number];

/** The UDP payload a side sends unless told otherwise: it fits every real-world path MTU after the IP and UDP headers. */
export const DATAGRAM_SIZE_DEFAULT = 1350;
/** The UDP payload sizes a side may send: QUIC's minimum, and the most a UDP datagram carries over IPv4. */
export const DATAGRAM_SIZE_MIN = 1200;
export const DATAGRAM_SIZE_MAX = 65_527;
