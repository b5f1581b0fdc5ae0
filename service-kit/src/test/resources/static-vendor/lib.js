export const site = "vendor";
