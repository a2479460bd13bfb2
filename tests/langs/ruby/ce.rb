def main(
  puts "unbalanced"
end
