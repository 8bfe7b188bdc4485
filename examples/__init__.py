"""Example hosts that wire bookingcore to adapters and drive it end to end."""
