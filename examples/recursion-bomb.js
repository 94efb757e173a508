// Recurses without a base case. Exit code 3 with the recursion limit and a hint.
function dive(n) {
  return dive(n + 1) + 1;
}
dive(0);
