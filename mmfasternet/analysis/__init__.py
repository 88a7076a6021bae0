"""FLOPs, speed and operator measurements (tools/analysis/ front ends)."""
