export const site = "own";
