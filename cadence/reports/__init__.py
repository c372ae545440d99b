"""What managers read: reports, funnels, activity, timelines, audit exports and status."""
