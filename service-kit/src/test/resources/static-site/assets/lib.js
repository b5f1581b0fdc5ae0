export const shadowed = true;
