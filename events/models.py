# Events (public calendar entries) arrive with their own issue; the app is registered now so
# that its place in the dependency order (districts <- events) is fixed from the start.
