GREETING = "from a sibling module"
