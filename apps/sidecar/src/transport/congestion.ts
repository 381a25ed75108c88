// Apart from quic-config so the command line can offer the choices without loading quiche.
/**
 * Congestion control for what this side sends. CUBIC backs off at every loss, which shares a
 * link fairly and is the default. BBR (v1; quiche here has no v2) sends at the bandwidth it
 * measures and does not take random loss for congestion, so it keeps its rate on lossy links
 * (Wi-Fi, long paths), but it takes more than its share from other traffic.
 */
export type CongestionControl = 'cubic' | 'bbr';
export const CONGESTION_CONTROLS: readonly CongestionControl[] = ['cubic', 'bbr'];
